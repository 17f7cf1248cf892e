package stream

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestTopNChangelog(t *testing.T) {
	tests := []struct {
		name   string
		schema *arrow.Schema
		keys   []SortKey
		input  string
		want   []string
	}{
		{
			name:   "append input, top 2 by v desc",
			schema: kvSchema,
			keys:   []SortKey{{Col: 1, Desc: true}},
			input:  `[{"k":"a","v":1},{"k":"b","v":5},{"k":"c","v":3},{"k":"d","v":0}]`,
			want:   []string{"+I|a|1", "+I|b|5", "-D|a|1", "+I|c|3"},
		},
		{
			name:   "retraction brings back a row from below",
			schema: clSchema,
			keys:   []SortKey{{Col: 2}},
			input:  `[{"op":0,"k":"a","v":1},{"op":0,"k":"b","v":2},{"op":0,"k":"c","v":3},{"op":3,"k":"a","v":1}]`,
			want:   []string{"+I|a|1", "+I|b|2", "-D|a|1", "+I|c|3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			rec := fromJSON(t, mem, tc.schema, tc.input)
			defer rec.Release()
			top, err := NewTopN(mem, tc.schema, tc.keys, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer top.Close()
			batches := cut(rec, 1)
			defer releaseAll(batches)
			if got := pushAll(t, top, batches, true); !equalStrings(got, tc.want) {
				t.Fatalf("got %q want %q", got, tc.want)
			}
		})
	}
}

// TestTopNPropertyMatchesSort checks that the folded top-N changelog is the
// first n rows of the sorted final input, at random batch sizes.
func TestTopNPropertyMatchesSort(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			mem := checkedMem(t)
			rng := rand.New(rand.NewSource(seed))
			input := randomChangelog(rng, mem, 5+rng.Intn(150))
			defer input.Release()
			n := 1 + rng.Intn(6)
			final, err := FoldChangelog(mem, clSchema, []arrow.Record{input})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := readRows(final)
			final.Release()
			if err != nil {
				t.Fatal(err)
			}
			// ORDER BY v DESC, then whole row, LIMIT n.
			sort.Slice(rows, func(i, j int) bool {
				if c := Compare(rows[i][1], rows[j][1]); c != 0 {
					return c > 0
				}
				return Compare(rows[i][0], rows[j][0]) < 0
			})
			var want []string
			for _, r := range rows[:min(n, len(rows))] {
				want = append(want, renderRow(kvSchema, r))
			}
			top, err := NewTopN(mem, clSchema, []SortKey{{Col: 2, Desc: true}}, n)
			if err != nil {
				t.Fatal(err)
			}
			defer top.Close()
			batches := randomCuts(rng, input, 1+rng.Intn(20))
			defer releaseAll(batches)
			var outs []arrow.Record
			for _, b := range batches {
				out, err := top.Push(context.Background(), b, 0)
				if err != nil {
					t.Fatal(err)
				}
				if out != nil {
					outs = append(outs, out)
				}
			}
			folded, err := FoldChangelog(mem, top.Schema(), outs)
			releaseAll(outs)
			if err != nil {
				t.Fatal(err)
			}
			defer folded.Release()
			if got := sorted(rowsOf(t, folded)); !equalStrings(got, sorted(want)) {
				t.Fatalf("top %d\n got %q\nwant %q", n, got, want)
			}
		})
	}
}

// TestTopNSnapshotRestore checkpoints a top-N over a changelog midway,
// restores the snapshot into a new operator, and feeds both the rest: the
// restored one emits exactly what the uninterrupted one does (a retraction
// after the restore brings back a row held only in the snapshot).
func TestTopNSnapshotRestore(t *testing.T) {
	mem := checkedMem(t)
	rec := fromJSON(t, mem, clSchema, `[{"op":0,"k":"a","v":1},{"op":0,"k":"b","v":2},{"op":0,"k":"c","v":3},
		{"op":3,"k":"a","v":1},{"op":3,"k":"b","v":2},{"op":0,"k":"d","v":0}]`)
	defer rec.Release()
	batches := cut(rec, 1)
	defer releaseAll(batches)
	keys := []SortKey{{Col: 2}}
	whole, err := NewTopN(mem, clSchema, keys, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	pushAll(t, whole, batches[:3], false)
	snap, err := whole.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := NewTopN(mem, clSchema, keys, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	want := pushAll(t, whole, batches[3:], true)
	got := pushAll(t, restored, batches[3:], true)
	if len(want) == 0 || !equalStrings(got, want) {
		t.Fatalf("restored top-N emits %q, uninterrupted %q", got, want)
	}
}
