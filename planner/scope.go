package planner

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sluicesql/sluice/sql"
)

// scopeCol is one column visible to name resolution; its position in the
// scope is its index in the input schema of the node being bound.
type scopeCol struct {
	qual, name string
	typ        arrow.DataType
	// hidden columns (the right copy of a USING column) are skipped by `*`
	// and by unqualified names.
	hidden bool
}

// scope is the set of columns an expression can name.
type scope struct {
	cols []scopeCol
}

func (s *scope) names() []string {
	out := make([]string, 0, len(s.cols))
	for _, c := range s.cols {
		out = append(out, c.name)
	}
	return out
}

// resolve finds qual.name (qual may be empty).
func (s *scope) resolve(qual, name string, pos sql.Pos) (int, error) {
	found, hiddenFound := -1, -1
	for i, c := range s.cols {
		if !strings.EqualFold(c.name, name) || (qual != "" && !strings.EqualFold(c.qual, qual)) {
			continue
		}
		if c.hidden && qual == "" {
			if hiddenFound < 0 {
				hiddenFound = i
			}
			continue
		}
		if found >= 0 {
			return 0, sql.Errorf(sql.BindError, pos, "ambiguous column %q", name)
		}
		found = i
	}
	if found < 0 {
		found = hiddenFound
	}
	if found >= 0 {
		return found, nil
	}
	full := name
	if qual != "" {
		full = qual + "." + name
		known := false
		for _, c := range s.cols {
			known = known || strings.EqualFold(c.qual, qual)
		}
		if !known {
			return 0, sql.Errorf(sql.BindError, pos, "unknown table %q in column %q", qual, full)
		}
	}
	return 0, sql.Errorf(sql.BindError, pos, "unknown column %q%s", full, suggest(name, s.names()))
}
