package exec

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec/expr"
)

func TestHashJoin(t *testing.T) {
	ls := schemaOf(f("id", i64), f("lv", i64))
	rs := schemaOf(f("id", i64), f("rv", i64))
	ldata := `[{"id":1,"lv":10},{"id":2,"lv":20},{"id":2,"lv":21},{"id":null,"lv":30},{"id":4,"lv":40}]`
	rdata := `[{"id":2,"rv":200},{"id":2,"rv":201},{"id":3,"rv":300},{"id":null,"rv":400},{"id":1,"rv":100}]`
	matched := []string{"1|10|1|100", "2|20|2|200", "2|20|2|201", "2|21|2|200", "2|21|2|201"}
	leftOnly := []string{"NULL|30|NULL|NULL", "4|40|NULL|NULL"}
	rightOnly := []string{"NULL|NULL|3|300", "NULL|NULL|NULL|400"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	resMatched := []string{"2|20|2|201", "2|21|2|201"}
	resLeft := []string{"1|10|NULL|NULL", "NULL|30|NULL|NULL", "4|40|NULL|NULL"}
	resRight := []string{"NULL|NULL|2|200", "NULL|NULL|1|100", "NULL|NULL|3|300", "NULL|NULL|NULL|400"}
	nlMatched := []string{"1|10|2|200", "1|10|2|201", "1|10|3|300", "2|20|3|300", "2|21|3|300"}
	keys := []expr.Expr{col(0, i64)}
	tests := []struct {
		name     string
		typ      JoinType
		keys     bool
		residual expr.Expr
		want     []string
	}{
		{"inner", JoinInner, true, nil, matched},
		{"left", JoinLeft, true, nil, cat(matched, leftOnly)},
		{"right", JoinRight, true, nil, cat(matched, rightOnly)},
		{"full", JoinFull, true, nil, cat(matched, leftOnly, rightOnly)},
		{"inner residual", JoinInner, true, cmpExpr{3, ">", 200}, resMatched},
		{"left residual", JoinLeft, true, cmpExpr{3, ">", 200}, cat(resMatched, resLeft)},
		{"right residual", JoinRight, true, cmpExpr{3, ">", 200}, cat(resMatched, resRight)},
		{"full residual", JoinFull, true, cmpExpr{3, ">", 200}, cat(resMatched, resLeft, resRight)},
		{"nested loop inner", JoinInner, false, colCmpExpr{0, 2, "<"}, nlMatched},
		{"nested loop left", JoinLeft, false, colCmpExpr{0, 2, "<"}, cat(nlMatched, leftOnly)},
	}
	for _, tc := range tests {
		for _, bs := range batchSizes {
			t.Run(fmt.Sprintf("%s/batch%d", tc.name, bs), func(t *testing.T) {
				mem := newMem(t)
				var lk, rk []expr.Expr
				if tc.keys {
					lk, rk = keys, keys
				}
				op, err := NewHashJoin(mem, input(t, mem, ls, ldata, bs), input(t, mem, rs, rdata, bs), tc.typ, lk, rk, tc.residual)
				if err != nil {
					t.Fatal(err)
				}
				eq(t, sorted(collect(t, op)), sorted(tc.want))
				outerL := tc.typ == JoinRight || tc.typ == JoinFull
				outerR := tc.typ == JoinLeft || tc.typ == JoinFull
				if op.Schema().Field(0).Nullable != (outerL || ls.Field(0).Nullable) || op.Schema().Field(3).Nullable != (outerR || rs.Field(1).Nullable) {
					t.Errorf("nullability wrong: %s", op.Schema())
				}
			})
		}
	}
}

func TestHashJoinStringAndMultiKey(t *testing.T) {
	ls := schemaOf(f("name", str), f("n", i64))
	rs := schemaOf(f("name", str), f("m", i64))
	ldata := `[{"name":"ann","n":1},{"name":"bob","n":2},{"name":"a-very-long-name-over-16","n":3},{"name":null,"n":4}]`
	rdata := `[{"name":"bob","m":2},{"name":"ann","m":9},{"name":"a-very-long-name-over-16","m":3},{"name":null,"m":4}]`
	for _, bs := range batchSizes {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			mem := newMem(t)
			op, err := NewHashJoin(mem, input(t, mem, ls, ldata, bs), input(t, mem, rs, rdata, bs), JoinInner,
				[]expr.Expr{col(0, str)}, []expr.Expr{col(0, str)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, sorted(collect(t, op)), []string{"a-very-long-name-over-16|3|a-very-long-name-over-16|3", "ann|1|ann|9", "bob|2|bob|2"})

			op, err = NewHashJoin(mem, input(t, mem, ls, ldata, bs), input(t, mem, rs, rdata, bs), JoinInner,
				[]expr.Expr{col(0, str), col(1, i64)}, []expr.Expr{col(0, str), col(1, i64)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, sorted(collect(t, op)), []string{"a-very-long-name-over-16|3|a-very-long-name-over-16|3", "bob|2|bob|2"})
		})
	}
}

func TestHashJoinEdgeCases(t *testing.T) {
	ls := schemaOf(f("id", i64))
	rs := schemaOf(f("id", i64))
	keys := []expr.Expr{col(0, i64)}
	t.Run("cross join", func(t *testing.T) {
		mem := newMem(t)
		op, err := NewHashJoin(mem, input(t, mem, ls, `[{"id":1},{"id":2},{"id":3}]`, 2), input(t, mem, rs, `[{"id":1},{"id":null}]`, 1), JoinInner, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, sorted(collect(t, op)), []string{"1|1", "1|NULL", "2|1", "2|NULL", "3|1", "3|NULL"})
	})
	t.Run("empty right left join", func(t *testing.T) {
		mem := newMem(t)
		op, err := NewHashJoin(mem, input(t, mem, ls, `[{"id":1}]`, 2), input(t, mem, rs, `[]`, 1), JoinLeft, keys, keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, collect(t, op), []string{"1|NULL"})
	})
	t.Run("empty right inner join skips left", func(t *testing.T) {
		mem := newMem(t)
		left := input(t, mem, ls, `[{"id":1}]`, 2)
		op, err := NewHashJoin(mem, left, input(t, mem, rs, `[]`, 1), JoinInner, keys, keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, collect(t, op), nil)
		if left.pulled != 0 {
			t.Errorf("left pulled %d batches", left.pulled)
		}
	})
	t.Run("key type mismatch", func(t *testing.T) {
		mem := newMem(t)
		l, r := input(t, mem, ls, `[]`, 1), input(t, mem, rs, `[]`, 1)
		defer l.Close()
		defer r.Close()
		if _, err := NewHashJoin(mem, l, r, JoinInner, keys, []expr.Expr{col(0, arrow.BinaryTypes.String)}, nil); err == nil {
			t.Error("want error")
		}
	})
	t.Run("early close", func(t *testing.T) {
		mem := newMem(t)
		op, err := NewHashJoin(mem, input(t, mem, ls, `[{"id":1},{"id":1},{"id":1}]`, 1), input(t, mem, rs, `[{"id":1}]`, 1), JoinInner, keys, keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if err := op.Open(ctx); err != nil {
			t.Fatal(err)
		}
		rec, err := op.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if err := op.Close(); err != nil {
			t.Fatal(err)
		}
		if err := op.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
