package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// joinDictKey probes a single string key through its dictionary: each
// distinct dictionary entry is looked up in the build table once per
// dictionary, and a row costs one array load — no string is built or
// hashed per probe row (a Parquet dictionary column stays indices).
type joinDictKey struct {
	data arrow.ArrayData // the dictionary gids belongs to (retained)
	gids []uint32        // dictionary entry → build group (NoGroup: no match)
}

// setupDictKey turns the dictionary probe on when the only probe key is a
// plain string column of the left input and the input can return it
// dictionary-encoded; the output and the residual get decoded strings.
func (j *HashJoin) setupDictKey() {
	if j.dictKey != nil || len(j.lkeys) != 1 || j.lkeys[0].DataType().ID() != arrow.STRING {
		return
	}
	c, ok := expr.ColumnIndex(j.lkeys[0])
	if !ok || c < 0 || c >= j.nleft {
		return
	}
	if keepDictionaries(j.left, []int{c}) {
		j.dictKey = &joinDictKey{}
	}
}

// groups maps the entries of d's dictionary to build groups.
func (k *joinDictKey) groups(ctx context.Context, mem memory.Allocator, b *joinBuild, d *array.Dictionary) ([]uint32, error) {
	dd := d.Data().Dictionary()
	if dd == k.data {
		return k.gids, nil
	}
	vals := d.Dictionary()
	n := vals.Len()
	k.gids = growSlice(k.gids[:0], n)[:n]
	if err := b.lookup(ctx, mem, []arrow.Array{vals}, k.gids); err != nil {
		return nil, err
	}
	for i := range k.gids {
		if vals.IsNull(i) {
			k.gids[i] = NoGroup // NULL never matches
		}
	}
	k.release()
	dd.Retain()
	k.data = dd
	return k.gids, nil
}

func (k *joinDictKey) release() {
	if k != nil && k.data != nil {
		k.data.Release()
		k.data = nil
	}
}

// probeGroups sets gids to the build group of each left row (NoGroup: no
// match) and returns the evaluated probe keys (caller releases), whose
// NULL rows the caller skips.
func (j *HashJoin) probeGroups(ctx context.Context, lrec arrow.Record, gids []uint32) ([]arrow.Array, error) {
	cols, err := evalAll(ctx, j.mem, lrec, exprList(j.lkeys))
	if err != nil {
		return nil, err
	}
	if j.dictKey != nil && len(cols) == 1 {
		if d, ok := cols[0].(*array.Dictionary); ok {
			if idx, ok := d.Indices().(*array.Int32); ok {
				if err := j.dictGroups(ctx, d, idx, gids); err != nil {
					releaseArrays(cols)
					return nil, err
				}
				return cols, nil
			}
		}
	}
	if err := decodeDictionaries(ctx, j.mem, cols); err != nil {
		releaseArrays(cols)
		return nil, err
	}
	if err := j.b.lookup(ctx, j.mem, cols, gids); err != nil {
		releaseArrays(cols)
		return nil, err
	}
	return cols, nil
}

func (j *HashJoin) dictGroups(ctx context.Context, d *array.Dictionary, idx *array.Int32, gids []uint32) error {
	m, err := j.dictKey.groups(ctx, j.mem, j.b, d)
	if err != nil {
		return err
	}
	nulls := d.NullN() > 0
	for i, k := range idx.Int32Values() {
		if nulls && d.IsNull(i) {
			gids[i] = NoGroup
			continue
		}
		if uint32(k) >= uint32(len(m)) {
			return fmt.Errorf("probe key: dictionary index %d out of range (%d values)", k, len(m))
		}
		gids[i] = m[k]
	}
	return nil
}
