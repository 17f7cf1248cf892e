package exec

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// countedSource is a MorselSource of resumable morsels of batches
// one-row batches each (value = morsel*1000 + batch), counting per morsel
// the readers opened and the batches decoded.
type countedSource struct {
	morsels, batches int
	opened           []atomic.Int64
	decoded          []atomic.Int64
}

var countedSchema = arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)

func newCountedSource(morsels, batches int) *countedSource {
	return &countedSource{morsels: morsels, batches: batches, opened: make([]atomic.Int64, morsels), decoded: make([]atomic.Int64, morsels)}
}

func (s *countedSource) Schema() *arrow.Schema { return countedSchema }
func (s *countedSource) Bounded() bool         { return true }
func (s *countedSource) Open(context.Context, memory.Allocator, ScanSpec) (SourceReader, error) {
	return nil, errors.New("countedSource: read it by morsels")
}

func (s *countedSource) Morsels(context.Context, ScanSpec) ([]Morsel, error) {
	out := make([]Morsel, s.morsels)
	for i := range out {
		out[i] = countedMorsel{s: s, i: i}
	}
	return out, nil
}

type countedMorsel struct {
	s *countedSource
	i int
}

func (m countedMorsel) RelativeOffsets() {}
func (m countedMorsel) String() string   { return "counted morsel" }
func (m countedMorsel) Open(_ context.Context, mem memory.Allocator) (SourceReader, error) {
	m.s.opened[m.i].Add(1)
	return &countedReader{m: m, mem: mem}, nil
}

type countedReader struct {
	m   countedMorsel
	mem memory.Allocator
	pos int64
}

func (r *countedReader) Next(context.Context) (Batch, error) {
	if r.pos >= int64(r.m.s.batches) {
		return Batch{}, io.EOF
	}
	b := array.NewInt64Builder(r.mem)
	defer b.Release()
	b.Append(int64(r.m.i*1000) + r.pos)
	arr := b.NewArray()
	defer arr.Release()
	r.pos++
	r.m.s.decoded[r.m.i].Add(1)
	return Batch{Record: array.NewRecord(countedSchema, []arrow.Array{arr}, 1)}, nil
}

func (r *countedReader) Offsets() Offsets    { return Offsets{"rows": r.pos} }
func (r *countedReader) Partitions() []int32 { return []int32{0} }
func (r *countedReader) Close() error        { return nil }

// waitFor polls cond for up to 10 s.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// While the reader is still in the first morsel, the other workers
// decode their whole morsels (not a few batches each, which made them
// take turns: no faster than one decoder), but start no more than
// workers+1 morsels ahead of it; then every row comes out in scan order
// with the sequential scan's offsets.
func TestOrderedReaderDecodesAhead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const morsels, batches, workers = 6, 40, 2
	src := newCountedSource(morsels, batches)
	ctx := context.Background()
	r, err := OpenOrdered(ctx, mem, src, ScanSpec{}, workers)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.Record.Release()
	if !waitFor(func() bool { return src.decoded[1].Load() == batches && src.decoded[2].Load() == batches }) {
		t.Fatalf("with the reader in morsel 0, morsels 1 and 2 decoded %d and %d of %d batches: the workers wait for the reader",
			src.decoded[1].Load(), src.decoded[2].Load(), batches)
	}
	time.Sleep(20 * time.Millisecond) // room for a worker to start a morsel it must not
	for i := 3; i < morsels; i++ {
		if n := src.opened[i].Load(); n != 0 {
			t.Fatalf("morsel %d opened while the reader is in morsel 0: more than workers+1 morsels ahead", i)
		}
	}
	for i := 1; ; i++ {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			if i != morsels*batches {
				t.Fatalf("%d batches, want %d", i, morsels*batches)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := int64(i/batches*1000 + i%batches)
		got := b.Record.Column(0).(*array.Int64).Value(0)
		b.Record.Release()
		if got != want {
			t.Fatalf("batch %d is %d, want %d", i, got, want)
		}
		if off := r.Offsets()["rows"]; off != int64(i+1) {
			t.Fatalf("offsets after batch %d: %d, want %d", i, off, i+1)
		}
	}
}

// Closing the reader while workers are ahead of it releases what they
// decoded.
func TestOrderedReaderCloseReleases(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := newCountedSource(4, 300) // more than a morsel's queue holds
	ctx := context.Background()
	r, err := OpenOrdered(ctx, mem, src, ScanSpec{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.Record.Release()
	if !waitFor(func() bool { return src.decoded[1].Load() >= orderedQueueMax }) {
		t.Fatalf("morsel 1 decoded %d batches", src.decoded[1].Load())
	}
	if n := src.decoded[1].Load(); n > orderedQueueMax+1 {
		t.Fatalf("morsel 1 decoded %d batches ahead of the reader, its queue holds %d", n, orderedQueueMax)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}
