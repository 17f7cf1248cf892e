package planner

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluicesql/sluice/sql"
)

// ValidToColumn names the column a temporal join's versioned table gains:
// the valid_from of the key's next version (NULL for the latest). No
// user column can be called so: `$` starts no identifier of the dialect.
const ValidToColumn = "$valid_to"

// systemTimeOf is the FOR SYSTEM_TIME AS OF clause written after the
// FROM item ts, or nil.
func (b *binder) systemTimeOf(n ast.ResultSetNode) *sql.SystemTime {
	ts, ok := n.(*ast.TableSource)
	if !ok {
		return nil
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return nil
	}
	for _, st := range b.q.SystemTimes {
		if strings.EqualFold(st.Table, tn.Name.O) && strings.EqualFold(st.Alias, ts.AsName.O) {
			return st
		}
	}
	return nil
}

// temporalSide turns the versioned table r (a source scan, bound with
// scope rsc to the right of a join whose left scope is lsc) into the
// batch form of a temporal join, which the streaming planner recognises
// (see versionsBelow): each row gains ValidToColumn, its key's next
// valid_from, by LEAD over the primary key ordered by the watermark
// column. As of the left's time column, a left row's version is the one
// with valid_from ≤ time < valid_to (the returned condition, over the
// join's columns); as of PROCTIME() it is the latest version (a filter
// valid_to IS NULL, no condition).
func (b *binder) temporalSide(st *sql.SystemTime, r Plan, rsc, lsc *scope) (Plan, *scope, Expr, []int, error) {
	var keys []int // the key columns, in r's (and rsc's) order
	vfi := -1      // the valid-from column
	if scan, ok := r.(*Scan); ok {
		def, ok := b.cat.LookupSource(scan.Source)
		if !ok {
			return nil, nil, nil, nil, sql.Errorf(sql.BindError, st.Pos, "%s", notVersioned(st.Table, "is not a source"))
		}
		if len(def.PrimaryKey) == 0 {
			return nil, nil, nil, nil, sql.Errorf(sql.BindError, st.Pos, "FOR SYSTEM_TIME AS OF needs a versioned table: declare PRIMARY KEY (…) NOT ENFORCED on source %s", def.Name)
		}
		if def.Watermark == nil {
			return nil, nil, nil, nil, sql.Errorf(sql.BindError, st.Pos, "FOR SYSTEM_TIME AS OF needs a WATERMARK FOR on source %s: the watermark column is each version's valid-from time", def.Name)
		}
		col := func(name string) int {
			for i, f := range r.Schema().Fields {
				if strings.EqualFold(f.Name, name) {
					return i
				}
			}
			return -1
		}
		for _, k := range def.PrimaryKey {
			c := col(k)
			if c < 0 {
				return nil, nil, nil, nil, sql.Errorf(sql.BindError, st.Pos, "source %s has no primary key column %q", def.Name, k)
			}
			keys = append(keys, c)
		}
		if vfi = col(def.Watermark.Column); vfi < 0 {
			return nil, nil, nil, nil, sql.Errorf(sql.BindError, st.Pos, "source %s has no watermark column %q", def.Name, def.Watermark.Column)
		}
	} else {
		vv, err := versionedView(st, r)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		r, keys, vfi = vv.versions, vv.keys, vv.validFrom
	}
	sch := r.Schema()
	ref := func(i int) *ColumnRef { return &ColumnRef{Index: i, Name: sch.Fields[i].Name, Typ: sch.Fields[i].Type} }
	part := make([]Expr, len(keys))
	for i, k := range keys {
		part[i] = ref(k)
	}
	vf := ref(vfi)
	a := &Analytic{Input: r, Partition: part, Order: []SortKey{{Expr: vf, NullsFirst: true}},
		Funcs: []WindowFunc{{Func: "lead", Args: []Expr{vf}, N: 1, Frame: RunningFrame, Typ: vf.Typ}},
		Names: []string{ValidToColumn}}
	sc := &scope{cols: append(append([]scopeCol(nil), rsc.cols...), scopeCol{name: ValidToColumn, typ: vf.Typ, hidden: true})}
	nl, nr := len(lsc.cols), sch.Len()
	vt := &ColumnRef{Index: nr, Name: ValidToColumn, Typ: vf.Typ}
	if st.Proctime {
		return &Filter{Input: a, Pred: &Call{Func: "is_null", Args: []Expr{vt}, Typ: TypeBoolean}}, sc, nil, keys, nil
	}
	li, err := lsc.resolve(st.Qualifier, st.Column, st.ColumnPos)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	lt := &ColumnRef{Index: li, Name: lsc.cols[li].name, Typ: lsc.cols[li].typ}
	if !arrowIsTimestamp(lt.Typ) || !arrowIsTimestamp(vf.Typ) {
		return nil, nil, nil, nil, sql.Errorf(sql.BindError, st.ColumnPos, "FOR SYSTEM_TIME AS OF %s: the time column is %s, the versions' %s is %s; both must be TIMESTAMP", st.Column, TypeName(lt.Typ), vf.Name, TypeName(vf.Typ))
	}
	rvf := &ColumnRef{Index: nl + vf.Index, Name: vf.Name, Typ: vf.Typ}
	rvt := &ColumnRef{Index: nl + nr, Name: ValidToColumn, Typ: vf.Typ}
	cond := andAll([]Expr{
		&Call{Func: "le", Args: []Expr{rvf, lt}, Typ: TypeBoolean},
		&Call{Func: "or", Args: []Expr{
			&Call{Func: "is_null", Args: []Expr{rvt}, Typ: TypeBoolean},
			&Call{Func: "lt", Args: []Expr{lt, rvt}, Typ: TypeBoolean},
		}, Typ: TypeBoolean},
	})
	return a, sc, cond, keys, nil
}

// checkTemporalJoin refuses the temporal joins no mode can run, in batch
// as in streaming, at the FOR SYSTEM_TIME clause: one that is not INNER
// or LEFT, one without an equality between the two inputs (conds are the
// join's own conditions, over nl left columns then the versioned table's
// rsc), and, as of an event time, one that does not equate every column
// of the table's primary key, keys (columns of rsc): the version is the
// key's.
func (b *binder) checkTemporalJoin(st *sql.SystemTime, typ JoinType, conds []Expr, nl int, rsc *scope, keys []int) error {
	if typ != InnerJoin && typ != LeftJoin {
		return sql.Errorf(sql.BindError, st.Pos, "a temporal join is an INNER or LEFT join, got %s", typ)
	}
	equated := map[int]bool{} // versioned-table columns equal to a left expression
	any := false
	for _, c := range conjuncts(andAll(conds)) {
		call, ok := c.(*Call)
		if !ok || call.Func != "eq" || len(call.Args) != 2 {
			continue
		}
		for k := 0; k < 2; k++ {
			l, r := call.Args[k], call.Args[1-k]
			if hi := maxColumn(l); hi < 0 || hi >= nl || minColumn(r) < nl {
				continue
			}
			any = true
			if rc, ok := r.(*ColumnRef); ok {
				equated[rc.Index-nl] = true
			}
		}
	}
	if !any {
		return sql.Errorf(sql.BindError, st.Pos, "a temporal join needs an equality on the versioned table's primary key (ON o.k = r.k)")
	}
	if st.Proctime {
		return nil
	}
	for _, k := range keys {
		if !equated[k] {
			return sql.Errorf(sql.BindError, st.Pos, "a temporal join joins on %s's primary key: add ON … = %s.%s", st.Table, st.Table, rsc.cols[k].name)
		}
	}
	return nil
}
