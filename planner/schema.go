package planner

import (
	"github.com/apache/arrow/go/v17/arrow"
)

// Field is one column of a plan node's output.
type Field struct {
	Name     string
	Type     arrow.DataType
	Nullable bool
}

// Schema is a plan node's output: its columns plus the streaming metadata
// the executor needs. An index of -1 means "none".
type Schema struct {
	Fields []Field
	// EventTime is the column carrying event time (the source's WATERMARK
	// column, while it survives projections).
	EventTime int
	// WindowStart and WindowEnd are the window bounds added by a window
	// table function, while they survive projections and grouping.
	WindowStart, WindowEnd int
}

// newSchema makes a schema without streaming metadata.
func newSchema(fields []Field) *Schema {
	return &Schema{Fields: fields, EventTime: -1, WindowStart: -1, WindowEnd: -1}
}

// Len is the number of columns.
func (s *Schema) Len() int { return len(s.Fields) }

// Names are the column names in order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// Arrow converts the schema to an Arrow schema (names, types, nullability).
func (s *Schema) Arrow() *arrow.Schema {
	fs := make([]arrow.Field, len(s.Fields))
	for i, f := range s.Fields {
		fs[i] = arrow.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable}
	}
	return arrow.NewSchema(fs, nil)
}

// remapMeta carries the streaming metadata through a column mapping
// (old index → new index, -1 when dropped).
func (s *Schema) remapMeta(out *Schema, m func(int) int) {
	f := func(i int) int {
		if i < 0 {
			return -1
		}
		return m(i)
	}
	out.EventTime = f(s.EventTime)
	out.WindowStart = f(s.WindowStart)
	out.WindowEnd = f(s.WindowEnd)
}

// metaThroughExprs maps metadata through a list of output expressions: an
// output column that is a plain reference to a marked input column keeps
// the mark.
func metaThroughExprs(in, out *Schema, exprs []Expr) {
	in.remapMeta(out, func(i int) int {
		for j, e := range exprs {
			if c, ok := e.(*ColumnRef); ok && c.Index == i {
				return j
			}
		}
		return -1
	})
}

// nullable guesses whether e can produce NULL.
func nullable(e Expr, in *Schema) bool {
	switch x := e.(type) {
	case *Literal:
		return x.Value == nil
	case *ColumnRef:
		if in == nil || x.Index >= len(in.Fields) {
			return true
		}
		return in.Fields[x.Index].Nullable
	case *Call:
		switch x.Func {
		case "is_null", "is_not_null":
			return false
		case "coalesce":
			for _, a := range x.Args {
				if !nullable(a, in) {
					return false
				}
			}
			return true
		case "div", "intdiv", "mod", "nullif", "case", "if", "cast":
			return true
		}
		for _, a := range x.Args {
			if nullable(a, in) {
				return true
			}
		}
		return false
	}
	return true
}
