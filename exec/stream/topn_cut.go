package stream

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/internal/valcmp"
)

// cellCmp compares row i of a column with a held Value as Compare would
// compare the Value reader gives for row i: typed on the column's array,
// without making a Value (or copying a string) for the row.
type cellCmp func(i int, v Value) int

// newCellCmp returns arr's comparator: int64, float64 and string columns
// compare in their own type, the others through viewReader.
func newCellCmp(arr arrow.Array) (cellCmp, error) {
	hasNulls := arr.NullN() > 0
	switch a := arr.(type) {
	case *array.Int64:
		vals := a.Int64Values()
		return func(i int, v Value) int {
			if hasNulls && a.IsNull(i) {
				return Compare(Value{}, v)
			}
			if v.K != KInt {
				return Compare(Int(vals[i]), v)
			}
			switch x := vals[i]; {
			case x < v.I:
				return -1
			case x > v.I:
				return 1
			}
			return 0
		}, nil
	case *array.Float64:
		vals := a.Float64Values()
		return func(i int, v Value) int {
			if hasNulls && a.IsNull(i) {
				return Compare(Value{}, v)
			}
			if v.K != KFloat {
				return Compare(Float(vals[i]), v)
			}
			return valcmp.Floats(vals[i], v.F)
		}, nil
	case *array.String:
		return func(i int, v Value) int {
			if hasNulls && a.IsNull(i) {
				return Compare(Value{}, v)
			}
			if v.K != KString {
				return Compare(Str(a.Value(i)), v)
			}
			return strings.Compare(a.Value(i), v.S)
		}, nil
	}
	f, err := viewReader(arr)
	if err != nil {
		return nil, err
	}
	return func(i int, v Value) int { return Compare(f(i), v) }, nil
}

// cutoff tells, for the rows of one batch, which sort strictly after a
// held row by the top-N's sort keys alone: over an append-only input such
// a row, compared with the n-th row held, can never enter the top n, so
// it is skipped before it is read (its ties, equal in every sort key, go
// the full way: the whole row breaks them).
type cutoff struct {
	keys []SortKey
	cmps []cellCmp
	off  int // value index of column c is c-off (1 over a changelog)
}

func (t *TopN) newCutoff(rec arrow.Record) (*cutoff, error) {
	c := &cutoff{keys: t.keys, cmps: make([]cellCmp, len(t.keys))}
	if t.changelog {
		c.off = 1
	}
	for i, k := range t.keys {
		f, err := newCellCmp(rec.Column(k.Col))
		if err != nil {
			return nil, err
		}
		c.cmps[i] = f
	}
	return c, nil
}

// after reports whether row i sorts strictly after the held values vals.
func (c *cutoff) after(i int, vals []Value) bool {
	for k, key := range c.keys {
		d := c.cmps[k](i, vals[key.Col-c.off])
		if key.Desc {
			d = -d
		}
		if d != 0 {
			return d > 0
		}
	}
	return false
}
