package planner

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// Unnest repeats each input row once per element of its lists and adds
// one column per list holding the element, after the input's columns:
// DuckDB's UNNEST, in the select list (SELECT UNNEST(l)) and in FROM
// (FROM t, UNNEST(t.l) AS u(x); FROM UNNEST([1, 2])). Several lists are
// zipped: as many rows as the longest, the shorter padded with NULL; a
// row whose lists are all NULL or empty gives no row.
type Unnest struct {
	Input Plan
	// Lists are list-typed expressions over Input's columns; Names name
	// their element columns.
	Lists []Expr
	Names []string
}

// Schema implements Plan: the input's columns (their marks kept), then
// one nullable element column per list.
func (u *Unnest) Schema() *Schema { return unnestSchema(u.Input.Schema(), u.Lists, u.Names) }

// unnestSchema is the output of unnesting lists over in.
func unnestSchema(in *Schema, lists []Expr, names []string) *Schema {
	fs := append([]Field(nil), in.Fields...)
	for i, l := range lists {
		fs = append(fs, Field{Name: names[i], Type: l.Type().(*arrow.ListType).Elem(), Nullable: true})
	}
	out := newSchema(fs)
	in.remapMeta(out, func(i int) int { return i })
	return out
}

// Children implements Plan.
func (u *Unnest) Children() []Plan { return []Plan{u.Input} }

// WithChildren implements Plan.
func (u *Unnest) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(u, 1, ch); err != nil {
		return nil, err
	}
	return &Unnest{Input: ch[0], Lists: u.Lists, Names: u.Names}, nil
}

// String implements Plan.
func (u *Unnest) String() string { return unnestString(u.Lists, u.Names) }

func unnestString(lists []Expr, names []string) string {
	parts := make([]string, len(lists))
	for i, l := range lists {
		parts[i] = l.String() + " AS " + names[i]
	}
	return "Unnest: " + strings.Join(parts, ", ")
}

// PhysUnnest is Unnest's operator, stateless. In a streaming plan over a
// changelog its input and output carry the op column first, each change
// unnests to changes, and updates come out as -D/+I (a retract stream:
// the rows of one list have no key).
type PhysUnnest struct {
	Input PhysicalPlan
	Lists []Expr
	Names []string
	Out   *Schema
}

// Schema implements PhysicalPlan.
func (p *PhysUnnest) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysUnnest) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysUnnest) String() string { return unnestString(p.Lists, p.Names) }

// unnest converts an Unnest: stateless, over an append-only input (which
// it keeps append-only, with its watermark) or a changelog (whose output
// is then a retract stream).
func (sp *streamPlanner) unnest(x *PhysUnnest) (PhysicalPlan, error) {
	in, err := sp.node(x.Input)
	if err != nil {
		return nil, err
	}
	m := sp.si.Modes[in]
	lists := make([]Expr, len(x.Lists))
	for i, l := range x.Lists {
		lists[i] = sp.over(in, l)
	}
	if m.Updating() {
		m = ChangelogMode{Kind: Retract}
	}
	return sp.set(&PhysUnnest{Input: in, Lists: lists, Names: x.Names, Out: outSchema(x.Out, m)}, m), nil
}
