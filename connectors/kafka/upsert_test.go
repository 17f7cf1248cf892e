package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

func keyed(topic, key, value string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: []byte(key)}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

// readOrdered reads a bounded reader to io.EOF, rows in arrival order.
func readOrdered(t *testing.T, r exec.SourceReader) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []string
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d rows: %v", len(out), err)
		}
		out = append(out, rowsOf(b.Record)...)
		b.Record.Release()
	}
}

// TestUpsertSource: an upsert-json topic reads as the changes of a keyed
// table: a key's first record is +I, a later one -U of the old row and +U
// of the new, a tombstone -D of the live row (nothing for a key never
// seen); columns are inferred; a reader resuming mid-topic re-learns the
// live rows first, so its first change still retracts the right row; a
// record without a key is a bad record naming its position.
func TestUpsertSource(t *testing.T) {
	_, addr := newCluster(t, map[string]int32{"prices": 1})
	mem := checkedMem(t)
	produce(t, addr,
		keyed("prices", "1", `{"id":1,"cat":"a","price":10}`),
		keyed("prices", "2", `{"id":2,"cat":"a","price":20}`),
		keyed("prices", "1", `{"id":1,"cat":"b","price":15}`),
		keyed("prices", "2", ""),
		keyed("prices", "3", ""),
		keyed("prices", "1", `{"id":1,"cat":"b","price":16}`),
	)
	o := opts("topic", "prices", "brokers", addr, "format", "upsert-json", "key", "ID")
	src, err := NewSource(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !src.Changelog() || strings.Join(src.ChangelogKey(), ",") != "id" {
		t.Fatalf("changelog %v key %v, want a changelog keyed by id", src.Changelog(), src.ChangelogKey())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := src.OpenReader(ctx, mem, exec.ScanSpec{Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	got := readOrdered(t, r)
	r.Close()
	// op: 0 +I, 1 -U, 2 +U, 3 -D; then id, cat, price.
	want := []string{"0|1|a|10", "0|2|a|20", "1|1|a|10", "2|1|b|15", "3|2|a|20", "1|1|b|15", "2|1|b|16"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("changes %q, want %q", got, want)
	}
	// Resuming at offset 3 (the tombstone of 2): the live rows of offsets
	// 0-2 are re-learnt, so the tombstone retracts 2's row.
	r2, err := src.OpenReader(ctx, mem, exec.ScanSpec{Bounded: true, From: exec.Offsets{"prices/0": 3}})
	if err != nil {
		t.Fatal(err)
	}
	got = readOrdered(t, r2)
	r2.Close()
	if want := []string{"3|2|a|20", "1|1|b|15", "2|1|b|16"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("resumed changes %q, want %q", got, want)
	}
	produce(t, addr, &kgo.Record{Topic: "prices", Value: []byte(`{"id":9,"cat":"z","price":1}`)})
	r3, err := src.OpenReader(ctx, mem, exec.ScanSpec{Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	var rerr error
	for rerr == nil {
		var b exec.Batch
		if b, rerr = r3.Next(ctx); b.Record != nil {
			b.Record.Release()
		}
	}
	if !strings.Contains(rerr.Error(), "prices/0/6") || !strings.Contains(rerr.Error(), "without a key") {
		t.Errorf("keyless record: %v, want an error naming prices/0/6", rerr)
	}
}

// TestUpsertOptions: upsert-json needs 'key', naming a column; a sink in
// it needs a key too.
func TestUpsertOptions(t *testing.T) {
	sch := schema(col("id", arrow.PrimitiveTypes.Int64), col("v", arrow.BinaryTypes.String))
	for _, tt := range []struct {
		o    []string
		want string
	}{
		{[]string{"topic", "t", "brokers", "x:1", "format", "upsert-json"}, "needs 'key'"},
		{[]string{"topic", "t", "brokers", "x:1", "format", "upsert-json", "key", "nope"}, `"nope" is not a column`},
		{[]string{"topic", "t", "brokers", "x:1", "format", "yaml"}, "json, csv, raw, avro, protobuf, debezium-json, upsert-json"},
	} {
		_, err := NewSource(opts(tt.o...), sch)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error with %s", tt.o, err, tt.want)
		}
	}
	_, addr := newCluster(t, map[string]int32{"out": 1})
	sink, err := NewSink(opts("topic", "out", "brokers", addr, "format", "upsert-json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if w, err := sink.Open(ctx, checkedMem(t), sch, exec.SinkMode{}); err == nil || !strings.Contains(err.Error(), "'key'") {
		if w != nil {
			w.Close()
		}
		t.Errorf("keyless upsert-json sink: %v, want an error naming 'key'", err)
	}
}

// TestUpsertKeyFromRecordKey: key columns a value leaves out come from the
// record key, as text for a key of one column (as the sink writes it) or
// a JSON object of the columns; updates and deletes of such a key retract
// whole rows; a key column in neither is a bad record naming its place.
func TestUpsertKeyFromRecordKey(t *testing.T) {
	_, addr := newCluster(t, map[string]int32{"one": 1, "two": 1})
	mem := checkedMem(t)
	produce(t, addr,
		keyed("one", "7", `{"cat":"a","price":10}`),
		keyed("one", `{"id":8}`, `{"cat":"b","price":20}`),
		keyed("one", "7", `{"cat":"c","price":11}`),
		keyed("one", "9", `{"id":9,"cat":"d","price":1}`), // the value's own id
		keyed("one", `{"id":8}`, ""),                      // the same key bytes as its upsert
		keyed("two", `{"shop":"s1","id":1}`, `{"price":5}`),
		keyed("two", `{"shop":"s1","id":1}`, `{}`),
		keyed("two", `{"shop":"s2"}`, `{"price":6}`),
	)
	read := func(topic, key string, sch *arrow.Schema) ([]string, error) {
		src, err := NewSource(opts("topic", topic, "brokers", addr, "format", "upsert-json", "key", key), sch)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := src.OpenReader(ctx, mem, exec.ScanSpec{Bounded: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out []string
		for {
			b, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return out, err
			}
			out = append(out, rowsOf(b.Record)...)
			b.Record.Release()
		}
	}
	one := schema(col("id", arrow.PrimitiveTypes.Int64), col("cat", arrow.BinaryTypes.String), col("price", arrow.PrimitiveTypes.Int64))
	got, err := read("one", "id", one)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0|7|a|10", "0|8|b|20", "1|7|a|10", "2|7|c|11", "0|9|d|1", "3|8|b|20"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("one-column key: changes %q, want %q", got, want)
	}
	two := schema(col("shop", arrow.BinaryTypes.String), col("id", arrow.PrimitiveTypes.Int64), col("price", arrow.PrimitiveTypes.Int64))
	got, err = read("two", "shop,id", two)
	if want := []string{"0|s1|1|5", "1|s1|1|5", "2|s1|1|NULL"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("two-column key: changes %q, want %q", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "two/0/2") || !strings.Contains(err.Error(), `"id" is neither in the value nor in the record key`) {
		t.Errorf("key without id: %v, want an error naming two/0/2 and the column", err)
	}
}

// TestUpsertStateBounded: the live rows are the reader's state: counted
// (ReaderState), accounted to the memory budget (past it the change fails
// with a memory-limit error and is not emitted, the rows before it stay)
// and, with a ttl, forgotten once unchanged that long, so the key's next
// record is an insert.
func TestUpsertStateBounded(t *testing.T) {
	mem := checkedMem(t)
	sch := schema(col("id", arrow.PrimitiveTypes.Int64), col("v", arrow.BinaryTypes.String))
	newU := func(budget *exec.Budget, ttl time.Duration, now *time.Time) *upsertValues {
		u, err := newUpsertValues(mem, sch, nil, []string{"id"})
		if err != nil {
			t.Fatal(err)
		}
		u.bound(budget.Account("upsert source t"), ttl)
		u.now = func() time.Time { return *now }
		return u
	}
	drain := func(u *upsertValues) []string {
		rec := u.newRecord()
		defer rec.Release()
		return rowsOf(rec)
	}
	clock := time.Unix(1000, 0)

	// Counted and bounded by the budget.
	budget := exec.NewBudget(3 * (liveRowOverhead + 40))
	u := newU(budget, 0, &clock)
	for i := range 3 {
		if _, err := u.appendRows(keyed("t", fmt.Sprint(i), fmt.Sprintf(`{"id":%d,"v":"x"}`, i))); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	keys, bytes := u.state()
	if keys != 3 || bytes <= 3*liveRowOverhead || budget.Used() != bytes {
		t.Errorf("state %d keys, %d bytes (budget used %d); want 3 keys counted in the budget", keys, bytes, budget.Used())
	}
	_, err := u.appendRows(keyed("t", "3", `{"id":3,"v":"a value too long for the budget"}`))
	var mle *exec.MemoryLimitError
	if !errors.As(err, &mle) || !strings.Contains(mle.Operator, "upsert source t") {
		t.Errorf("past the budget: %v, want a memory-limit error naming the source", err)
	}
	if got := drain(u); strings.Join(got, " ") != "0|0|x 0|1|x 0|2|x" {
		t.Errorf("emitted %q, want the three rows within the budget", got)
	}
	// A tombstone frees its row.
	if _, err := u.appendRows(keyed("t", "1", "")); err != nil {
		t.Fatal(err)
	}
	if keys, _ := u.state(); keys != 2 {
		t.Errorf("%d keys after a tombstone, want 2", keys)
	}
	drain(u)
	u.close()
	u.release()
	if budget.Used() != 0 {
		t.Errorf("budget holds %d bytes after close", budget.Used())
	}

	// Forgotten after the ttl: the next record of the key is an insert.
	u = newU(nil, time.Minute, &clock)
	defer u.release()
	for _, r := range []*kgo.Record{keyed("t", "1", `{"id":1,"v":"a"}`), keyed("t", "2", `{"id":2,"v":"b"}`)} {
		if _, err := u.appendRows(r); err != nil {
			t.Fatal(err)
		}
	}
	clock = clock.Add(30 * time.Second)
	if _, err := u.appendRows(keyed("t", "2", `{"id":2,"v":"c"}`)); err != nil { // 2 changed: kept
		t.Fatal(err)
	}
	clock = clock.Add(45 * time.Second) // 1 unchanged for 75 s, 2 for 45 s
	for _, r := range []*kgo.Record{keyed("t", "1", `{"id":1,"v":"d"}`), keyed("t", "2", `{"id":2,"v":"e"}`)} {
		if _, err := u.appendRows(r); err != nil {
			t.Fatal(err)
		}
	}
	want := "0|1|a 0|2|b 1|2|b 2|2|c 0|1|d 1|2|c 2|2|e"
	if got := drain(u); strings.Join(got, " ") != want {
		t.Errorf("with ttl 1m: %q, want %q", got, want)
	}
	if keys, _ := u.state(); keys != 2 {
		t.Errorf("%d keys, want 2", keys)
	}
}
