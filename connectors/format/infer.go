package format

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// InferSampleRows is how many records inference looks at.
const InferSampleRows = 1000

// TimestampType is the Arrow type of SQL TIMESTAMP (microseconds, no
// zone), the same as the planner's.
var TimestampType arrow.DataType = &arrow.TimestampType{Unit: arrow.Microsecond}

const (
	canInt = 1 << iota
	canFloat
	canTS
	canDate
	canBool
	canAll = canInt | canFloat | canTS | canDate | canBool
)

// narrow clears the candidate types v cannot be.
func narrow(cand int, v []byte) int {
	if cand&canInt != 0 {
		if _, ok := ParseInt(v); !ok {
			cand &^= canInt
		}
	}
	if cand&canFloat != 0 {
		if _, ok := ParseFloat(v); !ok {
			cand &^= canFloat
		}
	}
	if cand&canTS != 0 {
		// Date-only text is a DATE, not a TIMESTAMP.
		if _, ok := ParseTimestamp(v); !ok || len(v) <= 10 {
			cand &^= canTS
		}
	}
	if cand&canDate != 0 {
		if _, ok := ParseDate(v); !ok {
			cand &^= canDate
		}
	}
	if cand&canBool != 0 {
		if _, ok := ParseBool(v); !ok {
			cand &^= canBool
		}
	}
	return cand
}

// pick chooses the first candidate in the order BIGINT, DOUBLE,
// TIMESTAMP, DATE, BOOLEAN, falling back to VARCHAR (also for a column
// with no non-NULL value).
func pick(cand int, seen bool) arrow.DataType {
	switch {
	case !seen:
		return arrow.BinaryTypes.String
	case cand&canInt != 0:
		return arrow.PrimitiveTypes.Int64
	case cand&canFloat != 0:
		return arrow.PrimitiveTypes.Float64
	case cand&canTS != 0:
		return TimestampType
	case cand&canDate != 0:
		return arrow.FixedWidthTypes.Date32
	case cand&canBool != 0:
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}

// InferCSVRecords infers a schema from split records; the first is the
// header when opts.Header is set.
func InferCSVRecords(records [][]string, opts CSVOptions) (*arrow.Schema, error) {
	if len(records) == 0 {
		return nil, errors.New("infer csv: no data to infer a schema from")
	}
	var names []string
	if opts.Header {
		names = records[0]
		records = records[1:]
	} else {
		for i := range records[0] {
			names = append(names, fmt.Sprintf("c%d", i+1))
		}
	}
	cand := make([]int, len(names))
	seen := make([]bool, len(names))
	for i := range cand {
		cand[i] = canAll
	}
	for _, rec := range records {
		for i, v := range rec {
			if i >= len(names) || v == opts.Null {
				continue
			}
			seen[i] = true
			cand[i] = narrow(cand[i], []byte(v))
		}
	}
	fields := make([]arrow.Field, len(names))
	used := map[string]int{}
	for i, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			n = fmt.Sprintf("c%d", i+1)
		}
		if k := used[strings.ToLower(n)]; k > 0 {
			n = fmt.Sprintf("%s_%d", n, k)
		}
		used[strings.ToLower(n)]++
		fields[i] = arrow.Field{Name: n, Type: pick(cand[i], seen[i]), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// InferJSON infers a schema from JSON-object lines (errors name a line by
// its 1-based position in lines): keys in first-seen
// order; numbers are BIGINT or DOUBLE, booleans BOOLEAN, strings
// TIMESTAMP/DATE when every value parses so else VARCHAR, nested values
// VARCHAR; a key whose values disagree is VARCHAR (or DOUBLE for a mix
// of integers and floats). Blank lines are ignored.
func InferJSON(lines [][]byte) (*arrow.Schema, error) {
	type col struct {
		name            string
		cand            int
		seen            bool
		nums, strs, oth bool
	}
	var cols []*col
	byName := map[string]*col{}
	var scratch []byte
	seen := 0
	for li, line := range lines {
		n := li + 1 // errors name the line by its position in lines
		s := jsonScanner{b: line}
		s.ws()
		if s.i >= len(line) {
			continue
		}
		if seen++; seen > InferSampleRows {
			break
		}
		if s.b[s.i] != '{' {
			return nil, fmt.Errorf("infer json: line %d: %w", n, s.errf("expected an object"))
		}
		s.i++
		for {
			s.ws()
			if s.i >= len(s.b) {
				return nil, fmt.Errorf("infer json: line %d: %w", n, s.errf("unterminated object"))
			}
			if s.b[s.i] == '}' {
				break
			}
			if s.b[s.i] == ',' {
				s.i++
				s.ws()
			}
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return nil, fmt.Errorf("infer json: line %d: %w", n, s.errf("expected a key"))
			}
			s.i++
			k, err := s.str(&scratch)
			if err != nil {
				return nil, fmt.Errorf("infer json: line %d: %w", n, err)
			}
			key := string(k)
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return nil, fmt.Errorf("infer json: line %d: %w", n, s.errf("expected ':'"))
			}
			s.i++
			s.ws()
			c := byName[key]
			if c == nil {
				c = &col{name: key, cand: canAll}
				byName[key] = c
				cols = append(cols, c)
			}
			if s.i >= len(s.b) {
				return nil, fmt.Errorf("infer json: line %d: %w", n, s.errf("missing value"))
			}
			isStr := s.b[s.i] == '"'
			var v []byte
			if isStr {
				s.i++
				v, err = s.str(&scratch)
			} else {
				v, err = s.skip(&scratch)
			}
			if err != nil {
				return nil, fmt.Errorf("infer json: line %d: %w", n, err)
			}
			switch {
			case !isStr && string(v) == "null":
			case isStr:
				c.seen, c.strs = true, true
				c.cand = narrow(c.cand, v) &^ (canInt | canFloat | canBool)
			case v[0] == '{' || v[0] == '[':
				c.seen, c.oth = true, true
			case string(v) == "true" || string(v) == "false":
				c.seen = true
				c.cand &= canBool
			default:
				c.seen, c.nums = true, true
				c.cand = narrow(c.cand, v) & (canInt | canFloat)
			}
		}
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		t := arrow.DataType(arrow.BinaryTypes.String)
		if !c.oth && !(c.nums && c.strs) {
			t = pick(c.cand, c.seen)
		}
		fields[i] = arrow.Field{Name: c.name, Type: t, Nullable: true}
	}
	if len(fields) == 0 {
		return nil, errors.New("infer json: no objects to infer a schema from")
	}
	return arrow.NewSchema(fields, nil), nil
}
