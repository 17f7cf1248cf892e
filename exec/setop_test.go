package exec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestReplicate(t *testing.T) {
	i8 := arrow.PrimitiveTypes.Int8
	cases := []struct {
		name   string
		schema *arrow.Schema
		js     string
		opCol  int
		want   []string
	}{
		{"counts", schemaOf(f("s", str), f("n", i64)),
			`[{"s": "a", "n": 2}, {"s": "b", "n": 0}, {"s": "c", "n": null}, {"s": "d", "n": -3}, {"s": null, "n": 3}, {"s": "e", "n": 1}]`, -1,
			[]string{"a", "a", "NULL", "NULL", "NULL", "e"}},
		{"changelog", schemaOf(f("op", i8), f("s", str), f("n", i64)),
			`[{"op": 0, "s": "a", "n": 1}, {"op": 1, "s": "a", "n": 1}, {"op": 2, "s": "a", "n": 3}, {"op": 3, "s": "b", "n": 2}, {"op": 1, "s": "c", "n": 0}]`, 0,
			// -U/+U of differing counts become -D and +I.
			[]string{"0|a", "3|a", "0|a", "0|a", "0|a", "3|b", "3|b"}},
	}
	for _, c := range cases {
		for _, batch := range []int{1, 2, 100} {
			t.Run(fmt.Sprintf("%s/batch=%d", c.name, batch), func(t *testing.T) {
				mem := newMem(t)
				r, err := NewReplicate(mem, input(t, mem, c.schema, c.js, batch), c.opCol)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if got := r.Schema().NumFields(); got != c.schema.NumFields()-1 {
					t.Fatalf("schema has %d fields, want the input's without the count", got)
				}
				eq(t, collect(t, r), c.want)
			})
		}
	}
}

// TestReplicateLargeCount splits one row's copies over batches of at most
// DefaultBatchSize rows and releases a record left half-done at Close.
func TestReplicateLargeCount(t *testing.T) {
	mem := newMem(t)
	n := 2*DefaultBatchSize + 5
	r, err := NewReplicate(mem, input(t, mem, schemaOf(f("s", str), f("n", i64)), fmt.Sprintf(`[{"s": "x", "n": %d}, {"s": "y", "n": 1}]`, n), 10), -1)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, r)
	if len(got) != n+1 || got[0] != "x" || got[n-1] != "x" || got[n] != "y" {
		t.Fatalf("got %d rows, want %d x then y", len(got), n)
	}
	r.Close()

	half, err := NewReplicate(mem, input(t, mem, schemaOf(f("s", str), f("n", i64)), `[{"s": "x", "n": 100000}]`, 10), -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := half.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec, err := half.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rec.NumRows() != DefaultBatchSize {
		t.Errorf("first batch has %d rows, want %d", rec.NumRows(), DefaultBatchSize)
	}
	rec.Release()
	if err := half.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReplicateRefusesBadSchema(t *testing.T) {
	mem := newMem(t)
	for _, s := range []*arrow.Schema{schemaOf(f("n", i64)), schemaOf(f("s", str), f("n", str))} {
		in := input(t, mem, s, `[]`, 1)
		_, err := NewReplicate(mem, in, -1)
		in.Close()
		if err == nil || !strings.Contains(err.Error(), "BIGINT count") {
			t.Errorf("schema %s: err %v, want a refusal naming the count", s, err)
		}
	}
}
