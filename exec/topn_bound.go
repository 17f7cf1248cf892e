package exec

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/internal/valcmp"
)

// TopNBound is the running cut-off of a top-N on its first sort key,
// published to the scan that feeds it (ScanSpec.Bound): once a TopN
// keeps its k best rows, a row whose first key sorts strictly after the
// k-th one can never be in the result, whatever its other keys, and so
// the scan may drop it unread — a Parquet reader passes over row groups
// and pages whose statistics hold only such values, and drops such rows
// before decoding the other columns. Ties pass (a row equal to the
// cut-off may still enter ahead of it, from an earlier morsel), so the
// bound is "key >= cut-off" descending, "key <= cut-off" ascending, and
// NULL keys pass when they sort first. Every TopN over the same scan (the
// per-morsel ones and the final one) tightens the same bound; each one's
// k-th row is a valid cut-off for the whole result. Safe for concurrent
// use.
type TopNBound struct {
	// Column is the key's column in the source's full schema.
	Column int
	// Desc and NullsFirst are the first sort key's order.
	Desc, NullsFirst bool

	mu  sync.Mutex
	cut atomic.Pointer[Predicate]
}

// NewTopNBound returns a bound on column col of the source, not yet
// set.
func NewTopNBound(col int, desc, nullsFirst bool) *TopNBound {
	return &TopNBound{Column: col, Desc: desc, NullsFirst: nullsFirst}
}

// Predicate returns the rows that may still enter as a pushdown
// predicate on Column (Op "ge" or "le"), and false while the top-N is not
// full yet. Rows with a NULL key pass when NullsPass.
func (b *TopNBound) Predicate() (Predicate, bool) {
	if b == nil {
		return Predicate{}, false
	}
	p := b.cut.Load()
	if p == nil {
		return Predicate{}, false
	}
	return *p, true
}

// NullsPass reports whether rows with a NULL key may still enter.
func (b *TopNBound) NullsPass() bool { return b.NullsFirst }

// ByStatistics reports whether min/max statistics may prune by the
// bound: not for an ascending float key, where NaN sorts before every
// number (so a NaN row always enters) and writers leave NaN out of the
// statistics.
func (b *TopNBound) ByStatistics() bool {
	p, ok := b.Predicate()
	if !ok {
		return false
	}
	_, isFloat := p.Value.(float64)
	return b.Desc || !isFloat
}

// Tighten offers the k-th kept value of the first key (row i of key;
// TopN calls it after each merge once it keeps k rows): a
// NULL or a type without a pushdown value is ignored, a value no tighter
// than the current cut-off leaves it.
func (b *TopNBound) Tighten(key arrow.Array, i int) {
	if b == nil || key.IsNull(i) {
		return
	}
	v, ok := boundValue(key, i)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.cut.Load(); old != nil {
		c, ok := valcmp.Compare(v, old.Value)
		if !ok || (b.Desc && c <= 0) || (!b.Desc && c >= 0) {
			return
		}
	}
	op := "le"
	if b.Desc {
		op = "ge"
	}
	b.cut.Store(&Predicate{Column: b.Column, Op: op, Value: v})
}

// boundValue is row i of a as a Predicate value (int64, float64,
// string, arrow.Timestamp in microseconds, arrow.Date32).
func boundValue(a arrow.Array, i int) (any, bool) {
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(i), true
	case *array.Int32:
		return int64(x.Value(i)), true
	case *array.Int16:
		return int64(x.Value(i)), true
	case *array.Int8:
		return int64(x.Value(i)), true
	case *array.Float64:
		if f := x.Value(i); f == f {
			return f, true
		}
	case *array.String:
		return strings.Clone(x.Value(i)), true
	case *array.Timestamp:
		if x.DataType().(*arrow.TimestampType).Unit == arrow.Microsecond {
			return x.Value(i), true
		}
	case *array.Date32:
		return x.Value(i), true
	}
	return nil, false
}
