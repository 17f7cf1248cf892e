package expr

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Conditional functions pick, per row, which argument array supplies the
// value (a selection vector) and then gather once with choose. All branches
// are evaluated eagerly over the whole batch.

func registerCond() {
	registry["case"] = bindCase
	registry["coalesce"] = bindCoalesce
	registry["if"] = bindIf
	registry["nullif"] = bindNullif
}

func sameKind(a, b arrow.DataType) bool {
	return a.ID() == b.ID() || a.ID() == arrow.NULL || b.ID() == arrow.NULL
}

func bindCase(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 2, -1)
	if err != nil {
		return bound{}, err
	}
	for i := 0; i+1 < len(ts); i += 2 {
		if ts[i].ID() != arrow.BOOL && ts[i].ID() != arrow.NULL {
			return bound{}, fmt.Errorf("WHEN %d is %s, want BOOLEAN", i/2+1, sqlTypeName(ts[i]))
		}
		if !sameKind(ts[i+1], ret) {
			return bound{}, fmt.Errorf("THEN %d is %s, want %s", i/2+1, sqlTypeName(ts[i+1]), sqlTypeName(ret))
		}
	}
	hasElse := len(ts)%2 == 1
	if hasElse && !sameKind(ts[len(ts)-1], ret) {
		return bound{}, fmt.Errorf("ELSE is %s, want %s", sqlTypeName(ts[len(ts)-1]), sqlTypeName(ret))
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		sel := make([]int32, ec.n)
		var branches []arrow.Array
		for i := range sel {
			sel[i] = -1
		}
		undecided := ec.n
		for w := 0; w+1 < len(o); w += 2 {
			branches = append(branches, o[w+1].arr)
			br := int32(len(branches) - 1)
			cond := o[w].arr
			if cond.DataType().ID() == arrow.NULL {
				continue
			}
			cb := cond.(*array.Boolean)
			for i := range sel {
				if sel[i] == -1 && cb.IsValid(i) && cb.Value(i) {
					sel[i] = br
					undecided--
				}
			}
			if undecided == 0 {
				break
			}
		}
		if hasElse {
			branches = append(branches, o[len(o)-1].arr)
			br := int32(len(branches) - 1)
			for i := range sel {
				if sel[i] == -1 {
					sel[i] = br
				}
			}
		}
		return choose(ec.mem, ec.ret, sel, branches)
	}}, nil
}

func bindCoalesce(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 1, -1)
	if err != nil {
		return bound{}, err
	}
	for _, t := range ts {
		if !sameKind(t, ret) {
			return bound{}, unsupported("coalesce", ts...)
		}
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		sel := make([]int32, ec.n)
		branches := make([]arrow.Array, len(o))
		for i := range sel {
			sel[i] = -1
		}
		for j := len(o) - 1; j >= 0; j-- {
			a := o[j].arr
			branches[j] = a
			for i := range sel {
				if a.IsValid(i) {
					sel[i] = int32(j)
				}
			}
		}
		return choose(ec.mem, ec.ret, sel, branches)
	}}, nil
}

func bindIf(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 3, 3)
	if err != nil {
		return bound{}, err
	}
	if (ts[0].ID() != arrow.BOOL && ts[0].ID() != arrow.NULL) || !sameKind(ts[1], ret) || !sameKind(ts[2], ret) {
		return bound{}, unsupported("if", ts...)
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		sel := make([]int32, ec.n)
		cb, _ := o[0].arr.(*array.Boolean)
		for i := range sel {
			if cb != nil && cb.IsValid(i) && cb.Value(i) {
				sel[i] = 0
			} else {
				sel[i] = 1
			}
		}
		return choose(ec.mem, ec.ret, sel, []arrow.Array{o[1].arr, o[2].arr})
	}}, nil
}

func bindNullif(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 2, 2)
	if err != nil {
		return bound{}, err
	}
	eqb, err := registry["eq"](args, arrow.FixedWidthTypes.Boolean)
	if err != nil {
		return bound{}, unsupported("nullif", ts...)
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		eq, err := eqb.k(ec, o)
		if err != nil {
			return nil, err
		}
		defer eq.Release()
		cb := eq.(*array.Boolean)
		sel := make([]int32, ec.n)
		for i := range sel {
			if cb.IsValid(i) && cb.Value(i) {
				sel[i] = -1
			}
		}
		return choose(ec.mem, ec.ret, sel, []arrow.Array{o[0].arr})
	}}, nil
}

// chooseByTake is choose for the other types (lists): row i is taken
// from the branches laid end to end (a NULL-typed branch as NULLs of
// typ).
func chooseByTake(mem memory.Allocator, typ arrow.DataType, sel []int32, branches []arrow.Array) (arrow.Array, error) {
	n := len(sel)
	parts := make([]arrow.Array, len(branches))
	for j, b := range branches {
		if b.DataType().ID() == arrow.NULL {
			parts[j] = array.MakeArrayOfNull(mem, typ, b.Len())
		} else {
			b.Retain()
			parts[j] = b
		}
	}
	all, err := array.Concatenate(parts, mem)
	for _, p := range parts {
		p.Release()
	}
	if err != nil {
		return nil, err
	}
	defer all.Release()
	idx := make([]int32, n)
	for i, s := range sel {
		idx[i] = -1
		if s >= 0 {
			idx[i] = s*int32(n) + int32(i)
		}
	}
	return TakeArray(mem, all, idx)
}

// choose builds an array of type typ whose row i is row i of
// branches[sel[i]], or NULL when sel[i] < 0.
func choose(mem memory.Allocator, typ arrow.DataType, sel []int32, branches []arrow.Array) (arrow.Array, error) {
	n := len(sel)
	validity := newBitmap(mem, n)
	vb := validity.Bytes()
	valid := make([][]byte, len(branches))
	offs := make([]int, len(branches))
	for j, b := range branches {
		valid[j], offs[j] = validityBits(b)
	}
	for i, s := range sel {
		if s >= 0 && branches[s].DataType().ID() != arrow.NULL && isValid(valid[s], offs[s], i) {
			vb[i>>3] |= 1 << (i & 7)
		}
	}
	nulls := countNulls(validity, n)
	switch typ.ID() {
	case arrow.BOOL:
		buf := newBitmap(mem, n)
		out := buf.Bytes()
		for i, s := range sel {
			if s >= 0 && bitutil.BitIsSet(vb, i) && branches[s].(*array.Boolean).Value(i) {
				out[i>>3] |= 1 << (i & 7)
			}
		}
		return makeArray(typ, n, validity, buf, nulls), nil
	case arrow.STRING:
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.Reserve(n)
		for i, s := range sel {
			if !bitutil.BitIsSet(vb, i) {
				b.AppendNull()
				continue
			}
			b.Append(branches[s].(*array.String).Value(i))
		}
		validity.Release()
		return b.NewArray(), nil
	}
	fw, ok := typ.(arrow.FixedWidthDataType)
	if !ok {
		validity.Release()
		return chooseByTake(mem, typ, sel, branches)
	}
	switch fw.BitWidth() {
	case 32:
		return chooseFixed[int32](mem, typ, sel, branches, validity, nulls), nil
	case 64:
		return chooseFixed[int64](mem, typ, sel, branches, validity, nulls), nil
	case 128:
		return chooseFixed[decimal128.Num](mem, typ, sel, branches, validity, nulls), nil
	}
	validity.Release()
	return nil, fmt.Errorf("choose %s: %w", typ, ErrUnsupportedType)
}

func chooseFixed[T fixed](mem memory.Allocator, typ arrow.DataType, sel []int32, branches []arrow.Array, validity *memory.Buffer, nulls int) arrow.Array {
	src := make([][]T, len(branches))
	for j, b := range branches {
		if b.DataType().ID() != arrow.NULL {
			src[j] = values[T](b)
		}
	}
	buf, out := newFixed[T](mem, len(sel))
	vb := validity.Bytes()
	for i, s := range sel {
		if s >= 0 && bitutil.BitIsSet(vb, i) {
			out[i] = src[s][i]
		}
	}
	return makeArray(typ, len(sel), validity, buf, nulls)
}
