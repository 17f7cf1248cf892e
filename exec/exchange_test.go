package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var exchangeSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "producer", Type: arrow.PrimitiveTypes.Int64},
	{Name: "seq", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// exchangeRecord builds rows (key i%keys, producer, seq from..from+n).
func exchangeRecord(t *testing.T, mem memory.Allocator, producer, from, n, keys int) arrow.Record {
	t.Helper()
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		s := from + i
		key := fmt.Sprintf("%q", fmt.Sprintf("key-%d", s%keys))
		if s%keys == 0 {
			key = "null"
		}
		fmt.Fprintf(&b, `{"k": %s, "producer": %d, "seq": %d}`, key, producer, s)
	}
	b.WriteString("]")
	rec, _, err := array.RecordFromJSON(mem, exchangeSchema, strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestHashPartitionerIsAFunctionOfTheKey(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	ctx := context.Background()
	p, err := NewHashPartitioner([]int{0}, 5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int32{}
	check := func(rec arrow.Record) {
		t.Helper()
		parts, err := p.Assign(ctx, mem, rec)
		if err != nil {
			t.Fatal(err)
		}
		col := rec.Column(0).(*array.String)
		for i, q := range parts {
			if q < 0 || q >= 5 {
				t.Fatalf("partition %d out of range", q)
			}
			k := "NULL"
			if col.IsValid(i) {
				k = col.Value(i)
			}
			if prev, ok := seen[k]; ok && prev != q {
				t.Fatalf("key %s went to partition %d and %d", k, prev, q)
			}
			seen[k] = q
		}
	}
	// The same keys in batches of different sizes and offsets.
	for _, n := range []int{1, 7, 100} {
		rec := exchangeRecord(t, mem, 0, n, n, 13)
		check(rec)
		rec.Release()
	}
	if len(seen) != 13 {
		t.Fatalf("saw %d keys, want 13", len(seen))
	}
	used := map[int32]bool{}
	for _, q := range seen {
		used[q] = true
	}
	if len(used) < 2 {
		t.Fatalf("13 keys all hash to one of 5 partitions: %v", seen)
	}

	// A dictionary-encoded key hashes like its values.
	rec := exchangeRecord(t, mem, 0, 0, 26, 13)
	defer rec.Release()
	plain, err := p.Assign(ctx, mem, rec)
	if err != nil {
		t.Fatal(err)
	}
	plain = append([]int32(nil), plain...)
	db := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	defer db.Release()
	col := rec.Column(0).(*array.String)
	for i := range col.Len() {
		if col.IsNull(i) {
			db.AppendNull()
		} else if err := db.AppendString(col.Value(i)); err != nil {
			t.Fatal(err)
		}
	}
	dict := db.NewArray()
	defer dict.Release()
	drec := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "k", Type: dict.DataType(), Nullable: true}}, nil), []arrow.Array{dict}, int64(dict.Len()))
	defer drec.Release()
	got, err := p.Assign(ctx, mem, drec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range plain {
		if plain[i] != got[i] {
			t.Fatalf("row %d: dictionary key to partition %d, plain key to %d", i, got[i], plain[i])
		}
	}

	// Split keeps every row exactly once, in order within a part.
	parts, err := p.Split(ctx, mem, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(parts)
	total := int64(0)
	for q, part := range parts {
		if part == nil {
			continue
		}
		total += part.NumRows()
		seq := part.Column(2).(*array.Int64)
		for i := range seq.Len() {
			if plain[seq.Value(i)] != int32(q) {
				t.Fatalf("row seq=%d in part %d, assigned %d", seq.Value(i), q, plain[seq.Value(i)])
			}
			if i > 0 && seq.Value(i) <= seq.Value(i-1) {
				t.Fatalf("part %d out of order", q)
			}
		}
	}
	if total != rec.NumRows() {
		t.Fatalf("parts hold %d rows, want %d", total, rec.NumRows())
	}
}

func TestExchangeDeliversEachKeyToOneConsumerInProducerOrder(t *testing.T) {
	for _, tc := range []struct{ producers, consumers, buffer int }{{1, 1, 1}, {3, 4, 1}, {2, 3, 16}} {
		t.Run(fmt.Sprintf("p=%d/c=%d/buf=%d", tc.producers, tc.consumers, tc.buffer), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			t.Cleanup(func() { mem.AssertSize(t, 0) })
			ctx := context.Background()
			x, err := NewExchange(mem, exchangeSchema, []int{0}, tc.producers, tc.consumers, tc.buffer)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			const batches, rowsPer, keys = 20, 7, 11
			var wg sync.WaitGroup
			for p := range tc.producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					for b := 0; b < batches && err == nil; b++ {
						rec := exchangeRecord(t, mem, p, b*rowsPer, rowsPer, keys)
						err = x.Send(ctx, p, rec)
						rec.Release()
						if err == nil {
							err = x.Broadcast(ctx, p, (b+1)*rowsPer) // marker: seqs below it were sent
						}
					}
					x.CloseProducer(p, err)
				}()
			}
			var mu sync.Mutex
			owner := map[string]int{}
			rows := 0
			errs := make(chan error, tc.producers*batches*rowsPer+tc.consumers) // room for every row's complaint
			for c := range tc.consumers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					lastSeq := map[int]int64{}
					lastMark := map[int]int64{}
					for {
						it, err := x.Recv(ctx, c)
						if errors.Is(err, io.EOF) {
							for p := range tc.producers {
								if lastMark[p] != batches*rowsPer {
									errs <- fmt.Errorf("consumer %d: last marker of producer %d is %d", c, p, lastMark[p])
									return
								}
							}
							errs <- nil
							return
						}
						if err != nil {
							errs <- err
							return
						}
						if it.Record == nil {
							m := int64(it.Control.(int))
							if m <= lastMark[it.Producer] {
								errs <- fmt.Errorf("markers of producer %d out of order", it.Producer)
								return
							}
							lastMark[it.Producer] = m
							continue
						}
						k := it.Record.Column(0).(*array.String)
						prod := it.Record.Column(1).(*array.Int64)
						seq := it.Record.Column(2).(*array.Int64)
						mu.Lock()
						for i := range k.Len() {
							key := "NULL"
							if k.IsValid(i) {
								key = k.Value(i)
							}
							if o, ok := owner[key]; ok && o != c {
								errs <- fmt.Errorf("key %s reached consumers %d and %d", key, o, c)
							}
							owner[key] = c
							p := int(prod.Value(i))
							if p != it.Producer {
								errs <- fmt.Errorf("row of producer %d tagged %d", p, it.Producer)
							}
							s := seq.Value(i)
							if last, ok := lastSeq[p]; ok && s <= last {
								errs <- fmt.Errorf("producer %d: seq %d after %d", p, s, last)
							}
							if s < lastMark[p] {
								errs <- fmt.Errorf("producer %d: seq %d after marker %d", p, s, lastMark[p])
							}
							lastSeq[p] = s
							rows++
						}
						mu.Unlock()
						it.Record.Release()
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if want := tc.producers * batches * rowsPer; rows != want {
				t.Fatalf("received %d rows, want %d", rows, want)
			}
			if len(owner) != keys {
				t.Fatalf("saw %d keys, want %d", len(owner), keys)
			}
		})
	}
}

func TestExchangeProducerErrorReachesEveryConsumer(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	ctx := context.Background()
	x, err := NewExchange(mem, exchangeSchema, []int{0}, 2, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rec := exchangeRecord(t, mem, 0, 0, 10, 5)
	defer rec.Release()
	if err := x.Send(ctx, 0, rec); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("sales.csv:3: bad value")
	x.CloseProducer(0, nil)
	x.CloseProducer(1, boom)
	for c := range 2 {
		if _, err := x.Recv(ctx, c); !errors.Is(err, boom) {
			t.Fatalf("consumer %d: got %v, want the producer's error", c, err)
		}
	}
	if err := x.Send(ctx, 0, rec); !errors.Is(err, boom) {
		t.Fatalf("send after failure: %v", err)
	}
}

func TestExchangeCloseUnblocksAndReleases(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	x, err := NewExchange(mem, exchangeSchema, nil, 1, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	rec := exchangeRecord(t, mem, 0, 0, 3, 3)
	defer rec.Release()
	ctx := context.Background()
	if err := x.Send(ctx, 0, rec); err != nil { // fills the queue
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- x.Send(ctx, 0, rec) }() // blocks: nobody reads
	select {
	case err := <-sent:
		t.Fatalf("send to a full queue returned %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	x.Close()
	if err := <-sent; !errors.Is(err, ErrExchangeClosed) {
		t.Fatalf("blocked send after Close: %v", err)
	}
	if _, err := x.Recv(ctx, 0); !errors.Is(err, ErrExchangeClosed) {
		t.Fatalf("recv after Close: %v", err)
	}
	x.Close()
	x.CloseProducer(0, nil)

	// A cancelled context unblocks a full queue too.
	y, err := NewExchange(mem, exchangeSchema, nil, 1, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if err := y.Send(ctx, 0, rec); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := y.Send(cctx, 0, rec); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send with an expired context: %v", err)
	}
}

func TestExchangeOutputIsAnOperator(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	ctx := context.Background()
	x, err := NewExchange(mem, exchangeSchema, []int{0}, 1, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rec := exchangeRecord(t, mem, 0, 0, 12, 4)
	defer rec.Release()
	go func() {
		err := x.Send(ctx, 0, rec)
		if err == nil {
			err = x.Broadcast(ctx, 0, "barrier")
		}
		x.CloseProducer(0, err)
	}()
	total := int64(0)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := x.Output(c)
			n, err := Drain(ctx, out)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 12 {
		t.Fatalf("outputs returned %d rows, want 12", total)
	}
}
