package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// Plan is a logical plan node. Nodes are immutable values: rewrites build
// new nodes with WithChildren instead of mutating.
type Plan interface {
	// Schema is the node's output.
	Schema() *Schema
	// Children are the inputs, left to right.
	Children() []Plan
	// WithChildren returns a copy with the inputs replaced.
	WithChildren(children ...Plan) (Plan, error)
	// String is one line for EXPLAIN, e.g. `Filter: value > 1`.
	String() string
}

func wantChildren(p Plan, n int, got []Plan) error {
	if len(got) != n {
		return fmt.Errorf("%T takes %d children, got %d", p, n, len(got))
	}
	return nil
}

func exprList(es []Expr) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
	}
	return strings.Join(s, ", ")
}

// Scan reads a source. Columns are the source columns read, in output
// order; Filters are pushdown hints (the Filter above still applies).
type Scan struct {
	Source string
	// SourceSchema is the source's full schema.
	SourceSchema *arrow.Schema
	Columns      []int
	Filters      []ScanFilter
	// EventTime is the source column index of the watermark column, or -1.
	EventTime int
	Bounded   bool
	// Morsels is SourceDef.Morsels.
	Morsels bool
	// Changelog: the source's rows are changes (SourceDef.Changelog).
	Changelog bool
	// ChangelogKey is SourceDef.ChangelogKey.
	ChangelogKey []string
}

// Schema implements Plan.
func (s *Scan) Schema() *Schema {
	fs := make([]Field, len(s.Columns))
	out := newSchema(fs)
	for i, c := range s.Columns {
		f := s.SourceSchema.Field(c)
		fs[i] = Field{Name: f.Name, Type: f.Type, Nullable: true}
		if c == s.EventTime {
			out.EventTime = i
		}
	}
	return out
}

// Children implements Plan.
func (s *Scan) Children() []Plan { return nil }

// WithChildren implements Plan.
func (s *Scan) WithChildren(ch ...Plan) (Plan, error) { return s, wantChildren(s, 0, ch) }

// String implements Plan.
func (s *Scan) String() string {
	names := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		names[i] = s.SourceSchema.Field(c).Name
	}
	out := fmt.Sprintf("Scan: %s [%s]", s.Source, strings.Join(names, ", "))
	if len(s.Filters) > 0 {
		out += " filters=[" + scanFiltersString(s.SourceSchema, s.Filters) + "]"
	}
	return out
}

func scanFiltersString(sch *arrow.Schema, fs []ScanFilter) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		t := sch.Field(f.Column).Type
		name := sch.Field(f.Column).Name
		switch f.Op {
		case "is_null", "is_not_null":
			parts[i] = fmt.Sprintf("%s %s", name, f.Op)
		default:
			parts[i] = fmt.Sprintf("%s %s %s", name, f.Op, formatValue(t, f.Value, true))
		}
	}
	return strings.Join(parts, ", ")
}

// Filter keeps the rows for which Pred is true.
type Filter struct {
	Input Plan
	Pred  Expr
}

// Schema implements Plan.
func (f *Filter) Schema() *Schema { return f.Input.Schema() }

// Children implements Plan.
func (f *Filter) Children() []Plan { return []Plan{f.Input} }

// WithChildren implements Plan.
func (f *Filter) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(f, 1, ch); err != nil {
		return nil, err
	}
	return &Filter{Input: ch[0], Pred: f.Pred}, nil
}

// String implements Plan.
func (f *Filter) String() string { return "Filter: " + f.Pred.String() }

// Project computes Exprs over its input, naming them Names.
type Project struct {
	Input Plan
	Exprs []Expr
	Names []string
}

// Schema implements Plan.
func (p *Project) Schema() *Schema {
	in := p.Input.Schema()
	fs := make([]Field, len(p.Exprs))
	for i, e := range p.Exprs {
		fs[i] = Field{Name: p.Names[i], Type: e.Type(), Nullable: nullable(e, in)}
	}
	out := newSchema(fs)
	metaThroughExprs(in, out, p.Exprs)
	return out
}

// Children implements Plan.
func (p *Project) Children() []Plan { return []Plan{p.Input} }

// WithChildren implements Plan.
func (p *Project) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(p, 1, ch); err != nil {
		return nil, err
	}
	return &Project{Input: ch[0], Exprs: p.Exprs, Names: p.Names}, nil
}

// String implements Plan.
func (p *Project) String() string {
	parts := make([]string, len(p.Exprs))
	for i, e := range p.Exprs {
		parts[i] = e.String()
		if p.Names[i] != parts[i] {
			parts[i] += " AS " + p.Names[i]
		}
	}
	return "Project: " + strings.Join(parts, ", ")
}

// Aggregate groups by Keys and computes Aggs; output is the keys then the
// aggregates.
type Aggregate struct {
	Input    Plan
	Keys     []Expr
	KeyNames []string
	Aggs     []AggCall
}

// Schema implements Plan.
func (a *Aggregate) Schema() *Schema {
	in := a.Input.Schema()
	fs := make([]Field, 0, len(a.Keys)+len(a.Aggs))
	for i, k := range a.Keys {
		fs = append(fs, Field{Name: a.KeyNames[i], Type: k.Type(), Nullable: nullable(k, in)})
	}
	for _, g := range a.Aggs {
		fs = append(fs, Field{Name: g.String(), Type: g.Typ, Nullable: g.Func != "count" && g.Func != "count_star"})
	}
	out := newSchema(fs)
	metaThroughExprs(in, out, a.Keys)
	return out
}

// Children implements Plan.
func (a *Aggregate) Children() []Plan { return []Plan{a.Input} }

// WithChildren implements Plan.
func (a *Aggregate) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(a, 1, ch); err != nil {
		return nil, err
	}
	return &Aggregate{Input: ch[0], Keys: a.Keys, KeyNames: a.KeyNames, Aggs: a.Aggs}, nil
}

// String implements Plan.
func (a *Aggregate) String() string {
	aggs := make([]string, len(a.Aggs))
	for i, g := range a.Aggs {
		aggs[i] = g.String()
	}
	return fmt.Sprintf("Aggregate: keys=[%s] aggs=[%s]", exprList(a.Keys), strings.Join(aggs, ", "))
}

// JoinType is inner, left, right or full.
type JoinType string

// Join types.
const (
	InnerJoin JoinType = "inner"
	LeftJoin  JoinType = "left"
	RightJoin JoinType = "right"
	FullJoin  JoinType = "full"
)

// Join combines Left and Right; Cond (over left columns then right
// columns) may be nil for a cross join. Output is left ++ right.
type Join struct {
	Left, Right Plan
	Type        JoinType
	Cond        Expr
}

// Schema implements Plan.
func (j *Join) Schema() *Schema { return joinSchema(j.Left.Schema(), j.Right.Schema(), j.Type) }

// joinSchema is the schema of a join of type t of inputs l and r: left ++
// right, the outer side's columns nullable, the event time and window
// columns the left side's, else the right side's.
func joinSchema(l, r *Schema, t JoinType) *Schema {
	fs := make([]Field, 0, l.Len()+r.Len())
	for _, f := range l.Fields {
		f.Nullable = f.Nullable || t == RightJoin || t == FullJoin
		fs = append(fs, f)
	}
	for _, f := range r.Fields {
		f.Nullable = f.Nullable || t == LeftJoin || t == FullJoin
		fs = append(fs, f)
	}
	out := newSchema(fs)
	// Event time: the left side's wins, else the right side's.
	pick := func(a, b int) int {
		if a >= 0 {
			return a
		}
		if b >= 0 {
			return b + l.Len()
		}
		return -1
	}
	out.EventTime = pick(l.EventTime, r.EventTime)
	out.WindowStart = pick(l.WindowStart, r.WindowStart)
	out.WindowEnd = pick(l.WindowEnd, r.WindowEnd)
	return out
}

// Children implements Plan.
func (j *Join) Children() []Plan { return []Plan{j.Left, j.Right} }

// WithChildren implements Plan.
func (j *Join) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(j, 2, ch); err != nil {
		return nil, err
	}
	return &Join{Left: ch[0], Right: ch[1], Type: j.Type, Cond: j.Cond}, nil
}

// String implements Plan.
func (j *Join) String() string {
	if j.Cond == nil {
		return fmt.Sprintf("Join: %s", j.Type)
	}
	return fmt.Sprintf("Join: %s on %s", j.Type, j.Cond)
}

// Sort orders its input.
type Sort struct {
	Input Plan
	Keys  []SortKey
}

// Schema implements Plan.
func (s *Sort) Schema() *Schema { return s.Input.Schema() }

// Children implements Plan.
func (s *Sort) Children() []Plan { return []Plan{s.Input} }

// WithChildren implements Plan.
func (s *Sort) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(s, 1, ch); err != nil {
		return nil, err
	}
	return &Sort{Input: ch[0], Keys: s.Keys}, nil
}

func sortKeysString(ks []SortKey) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k.String()
	}
	return strings.Join(parts, ", ")
}

// String implements Plan.
func (s *Sort) String() string { return "Sort: " + sortKeysString(s.Keys) }

// TopN is a Sort followed by a Limit, fused so only Limit+Offset rows are
// kept.
type TopN struct {
	Input         Plan
	Keys          []SortKey
	Limit, Offset int64
}

// Schema implements Plan.
func (t *TopN) Schema() *Schema { return t.Input.Schema() }

// Children implements Plan.
func (t *TopN) Children() []Plan { return []Plan{t.Input} }

// WithChildren implements Plan.
func (t *TopN) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(t, 1, ch); err != nil {
		return nil, err
	}
	return &TopN{Input: ch[0], Keys: t.Keys, Limit: t.Limit, Offset: t.Offset}, nil
}

// String implements Plan.
func (t *TopN) String() string {
	s := fmt.Sprintf("TopN: %s limit=%d", sortKeysString(t.Keys), t.Limit)
	if t.Offset > 0 {
		s += fmt.Sprintf(" offset=%d", t.Offset)
	}
	return s
}

// Limit skips Offset rows then passes at most Limit rows (-1: no limit).
type Limit struct {
	Input         Plan
	Limit, Offset int64
}

// Schema implements Plan.
func (l *Limit) Schema() *Schema { return l.Input.Schema() }

// Children implements Plan.
func (l *Limit) Children() []Plan { return []Plan{l.Input} }

// WithChildren implements Plan.
func (l *Limit) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(l, 1, ch); err != nil {
		return nil, err
	}
	return &Limit{Input: ch[0], Limit: l.Limit, Offset: l.Offset}, nil
}

// String implements Plan.
func (l *Limit) String() string {
	s := fmt.Sprintf("Limit: %d", l.Limit)
	if l.Offset > 0 {
		s += fmt.Sprintf(" offset=%d", l.Offset)
	}
	return s
}

// Union concatenates inputs with identical column types (UNION ALL); the
// first input names the columns.
type Union struct {
	Inputs []Plan
}

// Schema implements Plan.
func (u *Union) Schema() *Schema {
	first := u.Inputs[0].Schema()
	fs := append([]Field(nil), first.Fields...)
	for _, in := range u.Inputs[1:] {
		for i, f := range in.Schema().Fields {
			fs[i].Nullable = fs[i].Nullable || f.Nullable
		}
	}
	return newSchema(fs)
}

// Children implements Plan.
func (u *Union) Children() []Plan { return u.Inputs }

// WithChildren implements Plan.
func (u *Union) WithChildren(ch ...Plan) (Plan, error) {
	if len(ch) < 1 {
		return nil, fmt.Errorf("union needs inputs")
	}
	return &Union{Inputs: ch}, nil
}

// String implements Plan.
func (u *Union) String() string { return "Union: all" }

// Distinct removes duplicate rows.
type Distinct struct {
	Input Plan
}

// Schema implements Plan.
func (d *Distinct) Schema() *Schema {
	out := *d.Input.Schema()
	return &out
}

// Children implements Plan.
func (d *Distinct) Children() []Plan { return []Plan{d.Input} }

// WithChildren implements Plan.
func (d *Distinct) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(d, 1, ch); err != nil {
		return nil, err
	}
	return &Distinct{Input: ch[0]}, nil
}

// String implements Plan.
func (d *Distinct) String() string { return "Distinct" }

// Window assigns each row to windows (TUMBLE, HOP, SESSION) by the time
// column TimeCol, appending window_start and window_end (TIMESTAMP) after
// the input columns. HOP emits a row once per window it falls in.
type Window struct {
	Input   Plan
	Kind    WindowKind
	TimeCol int
	Size    time.Duration
	Slide   time.Duration
	Gap     time.Duration
}

// Schema implements Plan.
func (w *Window) Schema() *Schema {
	in := w.Input.Schema()
	fs := append(append([]Field(nil), in.Fields...),
		Field{Name: "window_start", Type: TypeTimestamp},
		Field{Name: "window_end", Type: TypeTimestamp})
	out := newSchema(fs)
	out.EventTime = in.EventTime
	if out.EventTime < 0 {
		out.EventTime = w.TimeCol
	}
	out.WindowStart, out.WindowEnd = in.Len(), in.Len()+1
	return out
}

// Children implements Plan.
func (w *Window) Children() []Plan { return []Plan{w.Input} }

// WithChildren implements Plan.
func (w *Window) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(w, 1, ch); err != nil {
		return nil, err
	}
	c := *w
	c.Input = ch[0]
	return &c, nil
}

// String implements Plan.
func (w *Window) String() string {
	return "Window: " + windowString(w.Kind, w.Input.Schema().Fields[w.TimeCol].Name, w.Size, w.Slide, w.Gap)
}

func windowString(k WindowKind, col string, size, slide, gap time.Duration) string {
	switch k {
	case WindowTumble:
		return fmt.Sprintf("tumble(%s, %s)", col, size)
	case WindowHop:
		return fmt.Sprintf("hop(%s, slide=%s, size=%s)", col, slide, size)
	case WindowSession:
		return fmt.Sprintf("session(%s, gap=%s)", col, gap)
	}
	return fmt.Sprintf("window(%d)", k)
}

// Values is a constant relation (SELECT without FROM is one row with no
// columns).
type Values struct {
	Rows  [][]Expr
	Names []string
	Types []arrow.DataType
}

// Schema implements Plan.
func (v *Values) Schema() *Schema {
	fs := make([]Field, len(v.Names))
	for i := range fs {
		nul := false
		for _, r := range v.Rows {
			nul = nul || nullable(r[i], nil)
		}
		fs[i] = Field{Name: v.Names[i], Type: v.Types[i], Nullable: nul}
	}
	return newSchema(fs)
}

// Children implements Plan.
func (v *Values) Children() []Plan { return nil }

// WithChildren implements Plan.
func (v *Values) WithChildren(ch ...Plan) (Plan, error) { return v, wantChildren(v, 0, ch) }

// String implements Plan.
func (v *Values) String() string {
	rows := make([]string, len(v.Rows))
	for i, r := range v.Rows {
		rows[i] = "(" + exprList(r) + ")"
	}
	return "Values: " + strings.Join(rows, ", ")
}
