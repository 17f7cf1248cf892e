package sluice

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestRowsOp reads a changelog's operations as sluice.Change values
// without touching the op column: the first change of a key is an
// insert, a later one an update (-U then +U).
func TestRowsOp(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := Open(Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.RegisterSource("kv", kvSchema, kvRecords([]string{"a=1", "b=2"}, []string{"a=3"})); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(context.Background(), "SELECT k, SUM(v) AS s FROM kv GROUP BY k EMIT CHANGES")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rec := range rows.Records() {
		for i := 0; i < int(rec.NumRows()); i++ {
			got = append(got, rows.Op(i).String()+" "+rec.Column(1).ValueStr(i)+"="+rec.Column(2).ValueStr(i))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := "+I a=1,+I b=2,-U a=1,+U a=4"
	if strings.Join(got, ",") != want {
		t.Fatalf("changes %v, want %s", got, want)
	}
	if Insert.String() != "+I" || UpdateBefore.String() != "-U" || UpdateAfter.String() != "+U" || Delete.String() != "-D" {
		t.Error("Change values do not print as +I -U +U -D")
	}
	batch, err := db.Query(context.Background(), "SELECT k FROM kv")
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Close()
	for rec := range batch.Records() {
		for i := 0; i < int(rec.NumRows()); i++ {
			if batch.Op(i) != Insert {
				t.Errorf("row %d of a batch result is %v, want an insert", i, batch.Op(i))
			}
		}
	}
}

// TestCancelAndDeadline: cancel() and a deadline report the same way, as
// the package doc says: a streaming query stops cleanly (Err nil) either
// way; a batch query cut short reports the context's error either way.
func TestCancelAndDeadline(t *testing.T) {
	db, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(context.Background(), "CREATE SOURCE g WITH (connector = 'generator', rows_per_second = '100');"+
		"CREATE SOURCE bounded WITH (connector = 'generator', rows_per_second = '100', max_rows = '100000')"); err != nil {
		t.Fatal(err)
	}
	after := func(d time.Duration) func() (context.Context, context.CancelFunc) {
		return func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(d, cancel)
			return ctx, cancel
		}
	}
	within := func(d time.Duration) func() (context.Context, context.CancelFunc) {
		return func() (context.Context, context.CancelFunc) { return context.WithTimeout(context.Background(), d) }
	}
	const stream, batch = "SELECT category FROM g EMIT CHANGES", "SELECT COUNT(*) FROM bounded"
	for _, tc := range []struct {
		name, query string
		ctx         func() (context.Context, context.CancelFunc)
		want        error
	}{
		{"stream cancel", stream, after(300 * time.Millisecond), nil},
		{"stream deadline", stream, within(300 * time.Millisecond), nil},
		{"batch cancel", batch, after(300 * time.Millisecond), context.Canceled},
		{"batch deadline", batch, within(300 * time.Millisecond), context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			rows, err := db.Query(ctx, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
			}
			if got := rows.Err(); (got == nil) != (tc.want == nil) || !errors.Is(got, tc.want) {
				t.Errorf("Err() = %v, want %v", got, tc.want)
			}
			rows.Close()
		})
	}
}
