package planner

import (
	"errors"
	"strings"

	"github.com/sluicesql/sluice/sql"
)

// ViewDef is a view (CREATE VIEW): a stored query the binder inlines at
// each reference, like a CTE, so a view streams wherever its query does.
type ViewDef struct {
	Name string
	// Query is the view's query as parsed from its CREATE VIEW; errors
	// inside it point into that statement.
	Query *sql.Query
	// Columns rename the query's output columns (nil: its own names).
	Columns []string
}

// ViewCatalog is implemented by catalogs that hold views. LookupView finds
// a view by case-insensitive name. Names are shared with sources: a view
// and a source never have the same name.
type ViewCatalog interface {
	LookupView(name string) (*ViewDef, bool)
}

// lookupView finds a view in the binder's catalog, if it holds views.
func (b *binder) lookupView(name string) (*ViewDef, bool) {
	vc, ok := b.cat.(ViewCatalog)
	if !ok {
		return nil, false
	}
	return vc.LookupView(name)
}

// bindView binds a reference to v named alias: v's query bound on its
// own text (positions in it point into the CREATE VIEW), in v's own
// scope (no CTEs of the referring query). A view reached again while it
// is being bound is an error, not an endless expansion.
func (b *binder) bindView(v *ViewDef, alias string) (Plan, *scope, error) {
	pos := b.tablePos(v.Name)
	for _, n := range b.views {
		if strings.EqualFold(n, v.Name) {
			return nil, nil, sql.Errorf(sql.BindError, pos, "view %q refers to itself", v.Name)
		}
	}
	if err := b.enter(0); err != nil {
		return nil, nil, err
	}
	defer b.leave()
	vb := &binder{q: v.Query, cat: b.cat, pos: b.pos, depth: b.depth, views: append(append([]string(nil), b.views...), v.Name)}
	p, names, err := vb.bindQuery(v.Query.Select)
	if err == nil {
		err = vb.checkSubscripts()
	}
	if err != nil {
		var se *sql.Error
		if errors.As(err, &se) {
			return nil, nil, &sql.Error{Kind: se.Kind, Pos: pos, Msg: "view " + v.Name + ": " + se.Error(), Err: err}
		}
		return nil, nil, err
	}
	if alias == "" {
		alias = v.Name
	}
	sc := scopeFor(alias, p, names)
	if len(v.Columns) > 0 {
		if len(v.Columns) != len(sc.cols) {
			return nil, nil, sql.Errorf(sql.BindError, pos, "view %s names %d columns but its query has %d", v.Name, len(v.Columns), len(sc.cols))
		}
		for i, c := range v.Columns {
			sc.cols[i].name = c
		}
	}
	return p, sc, nil
}

// BindView checks a view's query against cat (CREATE VIEW fails early on
// an unknown column rather than at its first use) and returns its output
// column names.
func BindView(v *ViewDef, cat Catalog) ([]string, error) {
	b := &binder{q: v.Query, cat: cat, pos: map[Expr]int{}, views: []string{v.Name}}
	p, names, err := b.bindQuery(v.Query.Select)
	if err == nil {
		err = b.checkSubscripts()
	}
	if err != nil {
		return nil, positioned(err, sql.BindError, v.Query)
	}
	if len(v.Columns) > 0 && len(v.Columns) != len(names) {
		return nil, sql.Errorf(sql.BindError, v.Query.Position(), "view %s names %d columns but its query has %d", v.Name, len(v.Columns), p.Schema().Len())
	}
	if len(v.Columns) > 0 {
		names = v.Columns
	}
	return names, nil
}
