package planner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sluicesql/sluice/sql"
)

// SourceSchema turns CREATE SOURCE's declared columns into an Arrow schema
// (all columns nullable). It checks for unknown types, duplicate names and a
// WATERMARK column that is missing or not a TIMESTAMP. It returns nil, nil
// when no columns are declared (the connector infers the schema).
func SourceSchema(cs *sql.CreateSource) (*arrow.Schema, error) {
	if len(cs.Columns) == 0 {
		return nil, nil // inferred later; the engine then calls CheckWatermark
	}
	seen := map[string]bool{}
	fields := make([]arrow.Field, 0, len(cs.Columns))
	for _, c := range cs.Columns {
		k := strings.ToLower(c.Name)
		if seen[k] {
			return nil, sql.Errorf(sql.BindError, c.Pos, "duplicate column %q", c.Name)
		}
		seen[k] = true
		t, err := ParseType(c.Type)
		if err != nil {
			return nil, &sql.Error{Kind: sql.BindError, Pos: c.Pos, Msg: err.Error(), Err: err}
		}
		f := arrow.Field{Name: c.Name, Type: t, Nullable: true}
		if c.DefaultExpr != "" {
			if _, err := defaultExpr(c.DefaultExpr, c.DefaultExprPos, c.Name, t); err != nil {
				return nil, err
			}
			f.Metadata = arrow.NewMetadata([]string{DefaultExprKey}, []string{fmt.Sprintf("%d:%d:%s", c.DefaultExprPos.Line, c.DefaultExprPos.Col, c.DefaultExpr)})
		} else if c.HasDefault {
			if _, err := defaultValue(c.Default, t); err != nil {
				return nil, sql.Errorf(sql.BindError, c.DefaultPos, "column %q: DEFAULT value %q does not convert to %s", c.Name, c.Default, TypeName(t))
			}
			f.Metadata = arrow.NewMetadata([]string{DefaultKey}, []string{c.Default})
		}
		fields = append(fields, f)
	}
	s := arrow.NewSchema(fields, nil)
	if cs.Watermark != nil {
		if err := CheckWatermark(s, cs.Watermark); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// DefaultKey marks a declared column's DEFAULT constant (its text) in
// the field's metadata, so the table's schema carries it to every INSERT.
const DefaultKey = "sluice.default"

// DefaultExprKey marks a declared column's DEFAULT expression in the
// field's metadata: "line:col:text", the SQL text and where it is
// written, evaluated for each row an INSERT leaves the column out of.
const DefaultExprKey = "sluice.default_expr"

// defaultExpr binds the DEFAULT expression text written at pos for the
// column col of type t. It takes no columns (as DuckDB's); its errors
// point into the CREATE TABLE.
func defaultExpr(text string, pos sql.Pos, col string, t arrow.DataType) (Expr, error) {
	const head = "SELECT "
	at := sql.Pos{Line: pos.Line, Col: max(pos.Col-len(head), 1)}
	stmts, err := sql.ParseAt(head+text, at)
	if err != nil {
		return nil, err
	}
	q, ok := stmts[0].(*sql.Query)
	if len(stmts) != 1 || !ok || q.Emit != nil {
		return nil, sql.Errorf(sql.BindError, pos, "column %q: DEFAULT takes one expression", col)
	}
	p, err := Bind(q, nil)
	var se *sql.Error
	if errors.As(err, &se) && strings.HasPrefix(se.Msg, "unknown column ") {
		// The expression is bound with no columns in scope: any name is one.
		name := strings.TrimPrefix(se.Msg, "unknown column ")
		if i := strings.Index(name, "\" "); i >= 0 { // drop a "did you mean" hint
			name = name[:i+1]
		}
		return nil, sql.Errorf(sql.BindError, se.Pos, "column %q: DEFAULT cannot refer to column %s: a DEFAULT is a constant expression (DEFAULT 0, DEFAULT NOW())", col, name)
	}
	if err != nil {
		return nil, err
	}
	var e Expr
	switch x := p.(type) {
	case *Values:
		if len(x.Rows) == 1 && len(x.Rows[0]) == 1 {
			e = x.Rows[0][0]
		}
	case *Project:
		if _, one := x.Input.(*Values); one && len(x.Exprs) == 1 {
			e = x.Exprs[0]
		}
	}
	if e == nil {
		return nil, sql.Errorf(sql.BindError, pos, "column %q: DEFAULT takes one expression without columns or subqueries", col)
	}
	if !assignable(e.Type(), t) {
		return nil, sql.Errorf(sql.BindError, pos, "column %q is %s but its DEFAULT %s is %s", col, TypeName(t), text, TypeName(e.Type()))
	}
	return e, nil
}

// columnDefault is the value an INSERT gives column f when it has none:
// its DEFAULT constant or expression, else NULL.
func columnDefault(f arrow.Field, pos sql.Pos) (Expr, error) {
	if spec, ok := f.Metadata.GetValue(DefaultExprKey); ok {
		var line, col int
		var text string
		if parts := strings.SplitN(spec, ":", 3); len(parts) == 3 {
			line, _ = strconv.Atoi(parts[0])
			col, _ = strconv.Atoi(parts[1])
			text = parts[2]
		}
		return defaultExpr(text, sql.Pos{Line: line, Col: col}, f.Name, f.Type)
	}
	lit := &Literal{Typ: f.Type}
	if text, ok := f.Metadata.GetValue(DefaultKey); ok {
		v, err := defaultValue(text, f.Type)
		if err != nil {
			return nil, sql.Errorf(sql.PlanError, pos, "column %q: DEFAULT %s: %v", f.Name, text, err)
		}
		lit.Value = v
	}
	return lit, nil
}

// defaultValue is the DEFAULT constant text of a column of type t, as a
// value of t (a string converts as CAST would).
func defaultValue(text string, t arrow.DataType) (any, error) {
	return convertValue(text, TypeVarchar, t)
}

// CheckWatermark verifies that the WATERMARK column exists in s and is a
// TIMESTAMP; the engine calls it again once an inferred schema is known.
func CheckWatermark(s *arrow.Schema, w *sql.Watermark) error {
	var names []string
	for _, f := range s.Fields() {
		if strings.EqualFold(f.Name, w.Column) {
			if f.Type.ID() != arrow.TIMESTAMP {
				return sql.Errorf(sql.BindError, w.Pos, "WATERMARK column %q must be a TIMESTAMP, not %s", f.Name, TypeName(f.Type))
			}
			return nil
		}
		names = append(names, f.Name)
	}
	return sql.Errorf(sql.BindError, w.Pos, "unknown column %q in WATERMARK%s", w.Column, suggest(w.Column, names))
}

// PlanInsert plans `INSERT INTO sink query` (and CREATE SINK … AS query):
// the sink must exist; when its schema is known the query's columns must
// match it in number and be convertible, and the plan is extended with
// the needed casts and renamed to the sink's column names. When the sink
// schema is still unknown the caller sets SinkDef.Schema from
// QueryPlan.Output.Arrow().
func PlanInsert(sink string, q *sql.Query, cat Catalog) (*QueryPlan, error) {
	def, ok := cat.LookupSink(sink)
	if !ok {
		var names []string
		for _, s := range cat.Sinks() {
			names = append(names, s.Name)
		}
		return nil, sql.Errorf(sql.BindError, q.Position(), "unknown sink %q%s", sink, suggest(sink, names))
	}
	var dflt func(j int) (Expr, error)
	if def.Schema != nil {
		dflt = func(j int) (Expr, error) { // VALUES (DEFAULT, …)
			i := j
			if q.InsertColumns != nil {
				i = -1
				for k, f := range def.Schema.Fields() {
					if j < len(q.InsertColumns) && strings.EqualFold(f.Name, q.InsertColumns[j]) {
						i = k
					}
				}
			}
			if i < 0 || i >= def.Schema.NumFields() {
				return &Literal{Typ: TypeNull}, nil // the column count is checked below
			}
			e, err := columnDefault(def.Schema.Field(i), q.Position())
			if err != nil {
				return nil, err
			}
			return castTo(e, def.Schema.Field(i).Type), nil
		}
	}
	logical, err := bindWith(q, cat, dflt)
	if err != nil {
		return nil, err
	}
	if def.Schema != nil {
		if q.InsertColumns != nil {
			if logical, err = insertColumns(logical, def, q); err != nil {
				return nil, err
			}
		}
		if logical, err = fitSink(logical, def, q.Position()); err != nil {
			return nil, err
		}
	}
	qp, err := lower(q, logical)
	if err != nil {
		return nil, err
	}
	appendOnly := def.AppendOnly
	if qp.Stream, err = streaming(qp, cat, appendOnly); err != nil {
		return nil, err
	}
	if appendOnly && qp.Stream != nil && qp.Stream.Mode.Updating() {
		if q.Emit.Kind == sql.EmitEvery && q.Emit.Full && qp.Stream.Windowed {
			return nil, sql.Errorf(sql.PlanError, q.Position(), "sink %q is append-only but EMIT EVERY … FULL re-emits the whole result at each trigger: drop FULL to write each closed window once", def.Name)
		}
		return nil, sql.Errorf(sql.PlanError, q.Position(), "sink %q is append-only but the query produces updates: use EMIT FINAL, or aggregate over a window (TUMBLE/HOP/SESSION) with a watermark", def.Name)
	}
	return qp, nil
}

// insertColumns spreads the query's columns over the sink's by the
// INSERT's column list; a column it leaves out gets its DEFAULT, or NULL.
// fitSink then types the result as any INSERT's.
func insertColumns(p Plan, def *SinkDef, q *sql.Query) (Plan, error) {
	in := p.Schema()
	if in.Len() != len(q.InsertColumns) {
		return nil, sql.Errorf(sql.PlanError, q.Position(), "INSERT names %d columns but the query produces %d", len(q.InsertColumns), in.Len())
	}
	from := make([]int, def.Schema.NumFields())
	for i := range from {
		from[i] = -1
	}
	for j, name := range q.InsertColumns {
		i := -1
		for k, f := range def.Schema.Fields() {
			if strings.EqualFold(f.Name, name) {
				i = k
			}
		}
		if i < 0 {
			var names []string
			for _, f := range def.Schema.Fields() {
				names = append(names, f.Name)
			}
			return nil, sql.Errorf(sql.BindError, q.InsertColumnsPos[j], "sink %q has no column %q%s", def.Name, name, suggest(name, names))
		}
		if from[i] >= 0 {
			return nil, sql.Errorf(sql.BindError, q.InsertColumnsPos[j], "column %q is named twice", name)
		}
		from[i] = j
	}
	exprs := make([]Expr, len(from))
	names := make([]string, len(from))
	for i, f := range def.Schema.Fields() {
		names[i] = f.Name
		if from[i] >= 0 {
			exprs[i] = &ColumnRef{Index: from[i], Name: in.Fields[from[i]].Name, Typ: in.Fields[from[i]].Type}
			continue
		}
		e, err := columnDefault(f, q.Position())
		if err != nil {
			return nil, err
		}
		exprs[i] = castTo(e, f.Type)
	}
	return &Project{Input: p, Exprs: exprs, Names: names}, nil
}

// fitSink casts and renames the query output to the sink's schema.
func fitSink(p Plan, def *SinkDef, pos sql.Pos) (Plan, error) {
	in := p.Schema()
	want := def.Schema
	if in.Len() != want.NumFields() {
		return nil, sql.Errorf(sql.PlanError, pos, "sink %q has %d columns but the query produces %d", def.Name, want.NumFields(), in.Len())
	}
	exprs := make([]Expr, in.Len())
	names := make([]string, in.Len())
	for i, f := range in.Fields {
		t := want.Field(i).Type
		if !assignable(f.Type, t) && alwaysNull(p, i) {
			// `INSERT INTO t VALUES (NULL, …)`: a VALUES column of NULLs
			// is typed VARCHAR on its own; it fits any column.
			exprs[i] = &Literal{Typ: t}
			names[i] = want.Field(i).Name
			continue
		}
		if !assignable(f.Type, t) {
			return nil, sql.Errorf(sql.PlanError, pos, "sink %q column %q is %s but the query gives %s for %q", def.Name, want.Field(i).Name, TypeName(t), TypeName(f.Type), f.Name)
		}
		exprs[i] = castTo(&ColumnRef{Index: i, Name: f.Name, Typ: f.Type}, t)
		names[i] = want.Field(i).Name
	}
	return &Project{Input: p, Exprs: exprs, Names: names}, nil
}

// assignable allows exact types, NULL, and numeric widening without loss
// (INT→BIGINT, integers→DECIMAL/DOUBLE, DECIMAL→DOUBLE, DATE→TIMESTAMP),
// the same of a list's elements (BIGINT[]→INT[]), and integer narrowing (BIGINT→INT), which the cast checks row by row:
// `INSERT INTO t VALUES (1)` types 1 as BIGINT.
func assignable(from, to arrow.DataType) bool {
	switch {
	case arrow.TypeEqual(from, to), isNull(from):
		return true
	case isNumeric(from) && isNumeric(to):
		return to.ID() == arrow.FLOAT64 || (isInteger(from) && isInteger(to)) || // narrowing is checked when cast
			(isDecimal(to) && arrow.TypeEqual(numericCommon(from, to), to))
	case from.ID() == arrow.DATE32 && to.ID() == arrow.TIMESTAMP:
		return true
	case isList(from) && isList(to):
		// `INSERT INTO t VALUES (1, [1, 2])` into an INT[] column: the
		// literal is BIGINT[], its elements assigned one by one.
		return assignable(from.(*arrow.ListType).Elem(), to.(*arrow.ListType).Elem())
	}
	return false
}
