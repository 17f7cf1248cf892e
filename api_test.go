package sluice

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// kv is the schema of the test sources: k VARCHAR, v BIGINT.
var kvSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// kvRecords emits one record per element of batches; each element is a
// list of "key=value" rows.
func kvRecords(batches ...[]string) SourceFunc {
	return func(ctx context.Context, emit func(arrow.Record) error) error {
		for _, rows := range batches {
			b := array.NewRecordBuilder(Allocator(ctx), kvSchema)
			for _, r := range rows {
				k, v, _ := strings.Cut(r, "=")
				var n int64
				fmt.Sscan(v, &n)
				b.Field(0).(*array.StringBuilder).Append(k)
				b.Field(1).(*array.Int64Builder).Append(n)
			}
			rec := b.NewRecord()
			b.Release()
			err := emit(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// collect renders every row of rows as "a|b|c", sorted.
func collect(t *testing.T, rows *Rows) []string {
	t.Helper()
	defer rows.Close()
	var out []string
	for rec := range rows.Records() {
		for r := 0; r < int(rec.NumRows()); r++ {
			var cells []string
			for _, c := range rec.Columns() {
				cells = append(cells, c.ValueStr(r))
			}
			out = append(out, strings.Join(cells, "|"))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	sort.Strings(out)
	return out
}

func openChecked(t *testing.T) (*DB, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	db, err := Open(Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, mem
}

func TestRegisterSourceBatch(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"group by", "SELECT k, SUM(v) AS s FROM kv GROUP BY k", []string{"a|4", "b|2", "c|10"}},
		{"filter projection", "SELECT v FROM kv WHERE k = 'a'", []string{"1", "3"}},
		{"count", "SELECT COUNT(*) FROM kv", []string{"4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openChecked(t)
			if err := db.RegisterSource("kv", kvSchema, kvRecords([]string{"a=1", "b=2"}, []string{"a=3", "c=10"})); err != nil {
				t.Fatal(err)
			}
			rows, err := db.Query(context.Background(), tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, rows)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRegisterSourceErrors(t *testing.T) {
	db, _ := openChecked(t)
	boom := errors.New("boom")
	err := db.RegisterSource("bad", kvSchema, func(ctx context.Context, emit func(arrow.Record) error) error { return boom })
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(context.Background(), "SELECT * FROM bad")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if !errors.Is(err, boom) {
		t.Fatalf("query error = %v, want it to wrap %v", err, boom)
	}
	if err := db.RegisterSource("bad", kvSchema, kvRecords()); err == nil {
		t.Fatal("registering a duplicate name succeeded")
	}
	if err := db.RegisterSource("w", kvSchema, kvRecords(), WithWatermark("nope", time.Second)); err == nil {
		t.Fatal("a watermark on a missing column was accepted")
	}
	wrong := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	if err := db.RegisterSource("wrong", wrong, kvRecords([]string{"a=1"})); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Query(context.Background(), "SELECT * FROM wrong")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("schema mismatch error = %v", err)
	}
}

// TestRowsCloseStopsSource checks that closing a query over an endless
// Go source stops its goroutine and releases every record.
func TestRowsCloseStopsSource(t *testing.T) {
	db, _ := openChecked(t)
	stopped := make(chan error, 1)
	forever := func(ctx context.Context, emit func(arrow.Record) error) error {
		err := func() error {
			for i := 0; ; i++ {
				if err := kvRecords([]string{fmt.Sprintf("k%d=%d", i%3, i)})(ctx, emit); err != nil {
					return err
				}
			}
		}()
		stopped <- err
		return err
	}
	if err := db.RegisterSource("forever", kvSchema, forever); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(context.Background(), "SELECT k, v FROM forever WHERE v >= 0")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5 && rows.Next(); i++ {
	}
	rows.Close()
	select {
	case err := <-stopped:
		if err == nil {
			t.Fatal("source ended without an error after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("source goroutine still running 5s after Close")
	}
}

type order struct {
	OrderID  int64
	Customer string `sluice:"cust"`
	Amount   float64
	Paid     bool
	Note     *string
	At       time.Time
	internal int
	Skip     int `sluice:"-"`
}

func TestSourceFromChan(t *testing.T) {
	db, _ := openChecked(t)
	ch := make(chan order, 10)
	schema, fn, err := SourceFromChan(ch)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range schema.Fields() {
		names = append(names, fmt.Sprintf("%s:%s:%v", f.Name, f.Type, f.Nullable))
	}
	wantSchema := "order_id:int64:false,cust:utf8:false,amount:float64:false,paid:bool:false,note:utf8:true,at:timestamp[us]:false"
	if got := strings.Join(names, ","); got != wantSchema {
		t.Fatalf("schema %s, want %s", got, wantSchema)
	}
	if err := db.RegisterSource("orders", schema, fn); err != nil {
		t.Fatal(err)
	}
	note := "gift"
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ch <- order{OrderID: 1, Customer: "ann", Amount: 2.5, Paid: true, Note: &note, At: at}
	ch <- order{OrderID: 2, Customer: "bob", Amount: 4, At: at.Add(time.Minute)}
	ch <- order{OrderID: 3, Customer: "ann", Amount: 1.5, Paid: true, At: at.Add(2 * time.Minute)}
	close(ch)
	rows, err := db.Query(context.Background(), "SELECT cust, SUM(amount), COUNT(note), MAX(order_id) FROM orders WHERE paid GROUP BY cust")
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, rows)
	if want := []string{"ann|4|1|3"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestSourceFromChanRejects(t *testing.T) {
	if _, _, err := SourceFromChan(make(chan int)); err == nil {
		t.Fatal("a channel of int was accepted")
	}
	type bad struct{ C complex128 }
	if _, _, err := SourceFromChan(make(chan bad)); err == nil {
		t.Fatal("a complex128 field was accepted")
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{"Value": "value", "CustomerID": "customer_id", "HTTPStatus": "http_status", "A1B": "a1_b", "ts": "ts"} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRegisterSink(t *testing.T) {
	db, _ := openChecked(t)
	if err := db.RegisterSource("kv", kvSchema, kvRecords([]string{"a=1", "b=2", "a=5"})); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := db.RegisterSink("out", func(ctx context.Context, rec arrow.Record) error {
		for r := 0; r < int(rec.NumRows()); r++ {
			got = append(got, rec.Column(0).ValueStr(r)+"|"+rec.Column(1).ValueStr(r))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(context.Background(), "INSERT INTO out SELECT k, SUM(v) FROM kv GROUP BY k"); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if want := "a|6,b|2"; strings.Join(got, ",") != want {
		t.Fatalf("sink got %v, want %s", got, want)
	}
	tables := db.Tables()
	var desc []string
	for _, ti := range tables {
		desc = append(desc, ti.Kind+":"+ti.Name+":"+ti.Connector+":"+strings.Join(ti.Columns, "/"))
	}
	if want := "source:kv:go:k/v,sink:out:go:k/SUM(v)"; strings.Join(desc, ",") != want {
		t.Fatalf("Tables() = %v, want %s", desc, want)
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }

// TestStreamingGoSourceCancel runs continuous and micro-batch queries over
// an endless Go source, cancels them through the context and checks that
// they stop promptly and release every buffer.
func TestStreamingGoSourceCancel(t *testing.T) {
	for _, q := range []string{
		"SELECT k, COUNT(*) AS n FROM live GROUP BY k EMIT CHANGES",
		"SELECT k, SUM(v) AS s FROM live GROUP BY k EMIT EVERY INTERVAL '20' MILLISECOND FULL",
		"SELECT k, v FROM live WHERE v % 2 = 0 EMIT CHANGES",
	} {
		t.Run(q, func(t *testing.T) {
			db, _ := openChecked(t)
			live := func(ctx context.Context, emit func(arrow.Record) error) error {
				for i := 0; ; i++ {
					if err := kvRecords([]string{fmt.Sprintf("k%d=%d", i%3, i), fmt.Sprintf("k%d=%d", (i+1)%3, i+1)})(ctx, emit); err != nil {
						return err
					}
					time.Sleep(time.Millisecond)
				}
			}
			if err := db.RegisterSource("live", kvSchema, live, Unbounded()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rows, err := db.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for rows.Next() {
				got += int(rows.Record().NumRows())
				if got >= 10 {
					cancel()
					break
				}
			}
			start := time.Now()
			for rows.Next() { // drains to the end after cancel
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("after cancel: %v", err)
			}
			rows.Close()
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("query took %s to stop after cancel", d)
			}
			if got < 10 {
				t.Fatalf("only %d rows before the query ended", got)
			}
		})
	}
}
