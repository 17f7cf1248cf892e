package sql

import (
	"strings"
)

// castPlaceholder is what the TiDB parser sees in place of a CAST's type:
// the shortest type name it accepts (every sluice type name is at least as
// long), padded with spaces. The real type is in Query.CastTypes.
const castPlaceholder = "DEC"

// castTypes finds the target types of CAST(x AS type) and CONVERT(x, type)
// in body and replaces each by a same-length placeholder, so that every
// type name of CREATE SOURCE works in a cast (the TiDB parser only knows
// MySQL's short list: no INT, VARCHAR, TIMESTAMP, BOOLEAN, …) and the one
// table of type names, typeSynonyms, decides both. The result maps the
// offset of each CAST/CONVERT keyword in the query's text to the
// normalised type name (as ColumnDef.Type).
func (ps *parseState) castTypes(body []token) ([]replacement, map[int]string, error) {
	var repls []replacement
	var types map[int]string
	start := body[0].off
	for i := 0; i+1 < len(body); i++ {
		kw := body[i]
		isCast, isConvert := kw.is("CAST"), kw.is("CONVERT")
		if (!isCast && !isConvert) || !body[i+1].isPunct("(") || (i > 0 && body[i-1].isPunct(".")) {
			continue
		}
		// The type starts after the last AS (CAST) or comma (CONVERT) at
		// the call's own depth and runs to its closing parenthesis.
		depth, sep, closing := 0, -1, -1
		for j := i + 1; j < len(body) && closing < 0; j++ {
			t := body[j]
			switch {
			case t.isPunct("("):
				depth++
			case t.isPunct(")"):
				depth--
				if depth == 0 {
					closing = j
				}
			case depth == 1 && ((isCast && t.is("AS")) || (isConvert && t.isPunct(","))):
				sep = j
			}
		}
		if sep < 0 || closing < 0 || sep+1 >= closing {
			continue // not a cast (CONVERT(x USING cs)) or malformed: TiDB reports it
		}
		c := &cursor{ps: ps, toks: body[sep+1 : closing]}
		norm, err := c.columnType()
		if err != nil {
			return nil, nil, err
		}
		if err := c.end(); err != nil {
			return nil, nil, err
		}
		first, last := body[sep+1], body[closing-1]
		repls = append(repls, replacement{span{first.off, last.end}, castPlaceholder})
		if types == nil {
			types = map[int]string{}
		}
		types[kw.off-start] = norm
	}
	return repls, types, nil
}

// NormalizeType reads a type name as CREATE SOURCE and CAST accept it
// (`integer`, `VARCHAR(20)`, `decimal(10, 2)`, `double precision`, …) and
// returns its normalised form, one of BIGINT, INT, DOUBLE, DECIMAL(p,s),
// VARCHAR, BOOLEAN, TIMESTAMP or DATE. It is the planner's way into the one
// table of type names.
func NormalizeType(name string) (string, error) {
	res, err := lex(name)
	if err != nil || len(res.tokens) == 0 {
		return "", Errorf(ParseError, Pos{}, "malformed type %q", strings.TrimSpace(name))
	}
	ps := newParseState(name, Pos{Line: 1, Col: 1})
	c := &cursor{ps: ps, toks: res.tokens}
	norm, err := c.columnType()
	if err != nil {
		return "", err
	}
	if err := c.end(); err != nil {
		return "", err
	}
	return norm, nil
}

// extraUnits are EXTRACT units the TiDB parser does not know (DuckDB's and
// PostgreSQL's). TiDB sees DAY in their place; Query.ExtractUnits keeps
// the real one.
var extraUnits = map[string]bool{
	"EPOCH": true, "DOW": true, "DOY": true, "ISODOW": true, "ISOYEAR": true,
	"DAYOFWEEK": true, "DAYOFYEAR": true,
}

// extractUnits finds `EXTRACT(unit FROM …)` with a unit of extraUnits and
// replaces the unit by a same-length placeholder; the result maps the
// offset of the EXTRACT keyword in the query's text to the unit.
func extractUnits(body []token) ([]replacement, map[int]string) {
	var repls []replacement
	var units map[int]string
	for i := 0; i+3 < len(body); i++ {
		kw, unit := body[i], body[i+2]
		if !kw.is("EXTRACT") || !body[i+1].isPunct("(") || !body[i+3].is("FROM") || unit.kind != tkIdent {
			continue
		}
		u := strings.ToUpper(unit.text)
		if !extraUnits[u] {
			continue
		}
		repls = append(repls, replacement{span{unit.off, unit.end}, "DAY"})
		if units == nil {
			units = map[int]string{}
		}
		units[kw.off-body[0].off] = strings.ToLower(u)
	}
	return repls, units
}
