package expr

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// List functions, DuckDB's: list_value(a, b, …) builds a list of its
// arguments, list_len its length, list_extract(l, i) the element at the
// 1-based position i (negative from the end; NULL past either end),
// list_contains(l, x) whether an element equals x (NULL elements never
// do).

func registerLists() {
	registry["list_value"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		lt, ok := ret.(*arrow.ListType)
		if !ok || len(args) == 0 {
			return bound{}, fmt.Errorf("list_value: returns %s", sqlTypeName(ret))
		}
		for _, a := range args {
			if !arrow.TypeEqual(a.DataType(), lt.Elem()) {
				return bound{}, unsupported("list_value", a.DataType())
			}
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			all, err := array.Concatenate(a, ec.mem)
			if err != nil {
				return nil, err
			}
			defer all.Release()
			k, n := len(a), ec.n
			idx := make([]int32, 0, k*n)
			for i := 0; i < n; i++ {
				for j := 0; j < k; j++ {
					idx = append(idx, int32(j*n+i))
				}
			}
			vals, err := TakeArray(ec.mem, all, idx)
			if err != nil {
				return nil, err
			}
			defer vals.Release()
			offs := memory.NewResizableBuffer(ec.mem)
			offs.Resize((n + 1) * 4)
			ov := arrow.Int32Traits.CastFromBytes(offs.Bytes())
			for i := 0; i <= n; i++ {
				ov[i] = int32(i * k)
			}
			data := array.NewData(ret, n, []*memory.Buffer{nil, offs}, []arrow.ArrayData{vals.Data()}, 0, 0)
			offs.Release()
			defer data.Release()
			return array.MakeFromData(data), nil
		}}, nil
	}
	registry["list_len"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if len(args) != 1 || args[0].DataType().ID() != arrow.LIST {
			return bound{}, fmt.Errorf("list_len takes a list")
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			l := a[0].(*array.List)
			return rowFixed(ec, a, func(i int) (int64, bool, error) {
				s, e := l.ValueOffsets(i)
				return e - s, true, nil
			})
		}}, nil
	}
	registry["list_extract"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if len(args) != 2 || args[0].DataType().ID() != arrow.LIST || args[1].DataType().ID() != arrow.INT64 {
			return bound{}, fmt.Errorf("list_extract takes a list and a BIGINT")
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			l, at := a[0].(*array.List), values[int64](a[1])
			idx := make([]int32, ec.n)
			for i := range idx {
				idx[i] = -1
				if l.IsNull(i) || a[1].IsNull(i) {
					continue
				}
				s, e := l.ValueOffsets(i)
				p := at[i]
				switch {
				case p > 0 && p <= e-s:
					idx[i] = int32(s + p - 1)
				case p < 0 && -p <= e-s:
					idx[i] = int32(e + p)
				}
			}
			return TakeArray(ec.mem, l.ListValues(), idx)
		}}, nil
	}
	registry["list_contains"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if len(args) != 2 || args[0].DataType().ID() != arrow.LIST {
			return bound{}, fmt.Errorf("list_contains takes a list and a value")
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			l := a[0].(*array.List)
			vals := l.ListValues()
			// Elements and the value have one type (the planner casts), so
			// equal values have equal canonical text.
			fv, fx := formatter(vals), formatter(a[1])
			return rowBools(ec, a, func(i int) (bool, bool, error) {
				x := fx(i)
				s, e := l.ValueOffsets(i)
				for k := s; k < e; k++ {
					if !vals.IsNull(int(k)) && fv(int(k)) == x {
						return true, true, nil
					}
				}
				return false, true, nil
			})
		}}, nil
	}
}
