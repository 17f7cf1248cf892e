package planner

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluicesql/sluice/sql"
)

// setOpWords names the INTERSECT and EXCEPT operators as written.
var setOpWords = map[ast.SetOprType]string{
	ast.Intersect: "INTERSECT", ast.IntersectAll: "INTERSECT ALL",
	ast.Except: "EXCEPT", ast.ExceptAll: "EXCEPT ALL",
}

// intersectExcept binds `l INTERSECT [ALL] r` / `l EXCEPT [ALL] r` without
// a set-operation operator: both sides, tagged with a 1 in their own count
// column, are unioned and grouped by every column (GROUP BY's NULL
// equality is the set operations' one), so each distinct row gets its
// multiplicities l and r. DISTINCT keeps a group when l > 0 and r > 0
// (INTERSECT) or r = 0 (EXCEPT); ALL repeats each row min(l, r) or
// l − r times (Replicate), the multiset semantics of Postgres and DuckDB.
// Being an aggregate (and a stateless replication), it streams as a
// changelog. lpos and rpos place the sides' columns (fieldPos).
func (b *binder) intersectExcept(l Plan, ls *Schema, r Plan, names []string, op ast.SetOprType, lpos, rpos []sql.Pos) (Plan, error) {
	intersect := op == ast.Intersect || op == ast.IntersectAll
	all := op == ast.IntersectAll || op == ast.ExceptAll
	n := ls.Len()
	tag := func(p Plan, s *Schema, left bool) Plan {
		exprs := make([]Expr, 0, n+2)
		ns := make([]string, 0, n+2)
		for i, f := range s.Fields {
			exprs = append(exprs, &ColumnRef{Index: i, Name: f.Name, Typ: f.Type})
			ns = append(ns, f.Name)
		}
		one, zero := &Literal{Typ: TypeBigInt, Value: int64(1)}, &Literal{Typ: TypeBigInt, Value: int64(0)}
		if left {
			exprs = append(exprs, one, zero)
		} else {
			exprs = append(exprs, zero, one)
		}
		return &Project{Input: p, Exprs: exprs, Names: append(ns, "$left", "$right")}
	}
	rs := r.Schema()
	word := strings.Fields(setOpWords[op])[0]
	if rs.Len() != n {
		return nil, b.errAt(b.wordOff(strings.ToLower(word)), "%s sides have %d and %d columns", word, n, rs.Len())
	}
	lt := tag(l, ls, true)
	u, us, err := b.union(lt, lt.Schema(), tag(r, rs, false), lpos, rpos)
	if err != nil {
		return nil, err
	}
	keys := make([]Expr, n)
	for i := range keys {
		f := us.Fields[i]
		keys[i] = &ColumnRef{Index: i, Name: f.Name, Typ: f.Type}
	}
	count := func(i int) AggCall {
		return AggCall{Func: "sum", Arg: &ColumnRef{Index: i, Name: us.Fields[i].Name, Typ: TypeBigInt}, Typ: TypeBigInt}
	}
	agg := &Aggregate{Input: u, Keys: keys, KeyNames: append([]string(nil), names...), Aggs: []AggCall{count(n), count(n + 1)}}
	lc := &ColumnRef{Index: n, Name: "$left", Typ: TypeBigInt}
	rc := &ColumnRef{Index: n + 1, Name: "$right", Typ: TypeBigInt}
	zero := &Literal{Typ: TypeBigInt, Value: int64(0)}
	cmp := func(op string, a, b Expr) Expr { return &Call{Func: op, Typ: TypeBoolean, Args: []Expr{a, b}} }
	out := make([]Expr, n, n+1)
	for i := range out {
		out[i] = &ColumnRef{Index: i, Name: names[i], Typ: us.Fields[i].Type}
	}
	outNames := append([]string(nil), names...)
	var pred Expr
	switch {
	case !all && intersect:
		pred = andAll([]Expr{cmp("gt", lc, zero), cmp("gt", rc, zero)})
	case !all:
		pred = andAll([]Expr{cmp("gt", lc, zero), cmp("eq", rc, zero)})
	case intersect:
		pred = andAll([]Expr{cmp("gt", lc, zero), cmp("gt", rc, zero)})
		out = append(out, &Call{Func: "least", Typ: TypeBigInt, Args: []Expr{lc, rc}})
	default:
		pred = cmp("gt", lc, rc)
		out = append(out, &Call{Func: "sub", Typ: TypeBigInt, Args: []Expr{lc, rc}})
	}
	var p Plan = &Project{Input: &Filter{Input: agg, Pred: pred}, Exprs: out, Names: append(outNames, "$count")[:len(out)]}
	if all {
		p = &Replicate{Input: p}
	}
	return p, nil
}

// Replicate repeats each input row as many times as its last column, a
// BIGINT count, says, and drops that column (INTERSECT ALL, EXCEPT ALL).
type Replicate struct {
	Input Plan
}

// Schema implements Plan: the input's columns but the count.
func (r *Replicate) Schema() *Schema {
	in := r.Input.Schema()
	out := newSchema(append([]Field(nil), in.Fields[:in.Len()-1]...))
	if in.EventTime < in.Len()-1 {
		out.EventTime = in.EventTime
	}
	return out
}

// Children implements Plan.
func (r *Replicate) Children() []Plan { return []Plan{r.Input} }

// WithChildren implements Plan.
func (r *Replicate) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(r, 1, ch); err != nil {
		return nil, err
	}
	return &Replicate{Input: ch[0]}, nil
}

// String implements Plan.
func (r *Replicate) String() string {
	in := r.Input.Schema()
	return "Replicate: by " + in.Fields[in.Len()-1].Name
}

// PhysReplicate is Replicate's operator. In a streaming plan over a
// changelog its input and output carry the op column first, and updates
// come out as -D/+I (a retract stream: copies of one row have no key).
type PhysReplicate struct {
	Input PhysicalPlan
	Out   *Schema
}

// Schema implements PhysicalPlan.
func (p *PhysReplicate) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysReplicate) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysReplicate) String() string {
	in := p.Input.Schema()
	return "Replicate: by " + in.Fields[in.Len()-1].Name
}

// replicate converts a Replicate: stateless, over an append-only input or
// a changelog (whose output is then a retract stream).
func (sp *streamPlanner) replicate(x *PhysReplicate) (PhysicalPlan, error) {
	in, err := sp.node(x.Input)
	if err != nil {
		return nil, err
	}
	m := sp.si.Modes[in]
	if m.Updating() {
		m = ChangelogMode{Kind: Retract}
	}
	return sp.set(&PhysReplicate{Input: in, Out: outSchema(x.Out, m)}, m), nil
}
