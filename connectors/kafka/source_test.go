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
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

var ordersSchema = schema(col("category", arrow.BinaryTypes.String), col("value", arrow.PrimitiveTypes.Int64))

func TestRegistered(t *testing.T) {
	_, addr := newCluster(t, map[string]int32{"orders": 1})
	src, err := connectors.NewSource(connectors.Env{}, opts("topic", "orders", "brokers", addr), ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	if src.Bounded() {
		t.Error("kafka source must be unbounded")
	}
	if _, err := connectors.NewSink(connectors.Env{}, opts("topic", "orders", "brokers", addr)); err != nil {
		t.Fatal(err)
	}
}

func TestStartupModes(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name  string
		opts  []string
		setup func(t *testing.T, addr string) // before Open
		after []string                        // values produced after Open
		want  []string
	}{
		{name: "earliest", opts: []string{"scan.startup.mode", "earliest"},
			want: []string{"a|1", "b|2", "c|3"}},
		{name: "latest", opts: []string{"scan.startup.mode", "latest"},
			after: []string{`{"category":"d","value":4}`}, want: []string{"d|4"}},
		// Flink's spellings, so its CREATE TABLEs run unchanged.
		{name: "earliest-offset", opts: []string{"scan.startup.mode", "earliest-offset"},
			want: []string{"a|1", "b|2", "c|3"}},
		{name: "latest-offset", opts: []string{"scan.startup.mode", "latest-offset"},
			after: []string{`{"category":"d","value":4}`}, want: []string{"d|4"}},
		{name: "timestamp", opts: []string{"scan.startup.mode", "timestamp", "scan.startup.timestamp-millis", fmt.Sprint(base.Add(2 * time.Second).UnixMilli())},
			want: []string{"b|2", "c|3"}},
		{name: "group-offsets", opts: []string{"scan.startup.mode", "group-offsets", "group.id", "g1"},
			setup: func(t *testing.T, addr string) {
				cl := manualClient(t, addr)
				os := kadm.Offsets{}
				os.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 2, LeaderEpoch: -1})
				resp, err := kadm.NewClient(cl).CommitOffsets(context.Background(), "g1", os)
				if err == nil {
					err = resp.Error()
				}
				if err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"c|3"}},
		{name: "group-offsets-none-committed", opts: []string{"group.id", "g2"},
			want: []string{"a|1", "b|2", "c|3"}},
	}
	for _, tc := range tests {
		for _, bounded := range []bool{false, true} {
			if bounded && tc.after != nil {
				continue
			}
			t.Run(fmt.Sprintf("%s/bounded=%v", tc.name, bounded), func(t *testing.T) {
				mem := checkedMem(t)
				_, addr := newCluster(t, map[string]int32{"orders": 1})
				cl := manualClient(t, addr)
				for i, v := range []string{`{"category":"a","value":1}`, `{"category":"b","value":2}`, `{"category":"c","value":3}`} {
					r := rec("orders", 0, v)
					r.Timestamp = base.Add(time.Duration(i+1) * time.Second)
					produceTo(t, cl, r)
				}
				if tc.setup != nil {
					tc.setup(t, addr)
				}
				o := opts(append([]string{"topic", "orders", "brokers", addr, "format", "json"}, tc.opts...)...)
				r := openSource(t, mem, o, ordersSchema, exec.ScanSpec{Linger: 20 * time.Millisecond, Bounded: bounded})
				var after []*kgo.Record
				for _, v := range tc.after {
					after = append(after, rec("orders", 0, v))
				}
				if len(after) > 0 {
					// The reader resolved "latest" at Open; give it a
					// moment so the new record is surely after that.
					produceTo(t, cl, after...)
				}
				var got []string
				if bounded {
					got = readAll(t, r)
				} else {
					got = readN(t, r, len(tc.want), 10*time.Second)
				}
				if !equal(got, sorted(tc.want...)) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestFormatsAndMetadata(t *testing.T) {
	ts := time.UnixMilli(1_767_225_605_000) // 2026-01-01 00:00:05 UTC
	tests := []struct {
		name     string
		format   string
		declared *arrow.Schema
		values   []string
		cols     []int
		want     []string
	}{
		{name: "json", format: "json", declared: ordersSchema,
			values: []string{`{"category":"a","value":1}`, `{"value":2,"category":"b","extra":[1,2]}`},
			want:   []string{"a|1", "b|2"}},
		{name: "csv", format: "csv", declared: ordersSchema,
			values: []string{"a,1", `"b,c",2`}, want: []string{"a|1", "b,c|2"}},
		{name: "raw", format: "raw", values: []string{"hello", "wor|ld"}, want: []string{"hello", "wor|ld"}},
		{name: "json-projected", format: "json", declared: ordersSchema, cols: []int{1},
			values: []string{`{"category":"a","value":1}`}, want: []string{"1"}},
		{name: "metadata", format: "json",
			declared: schema(col("value", arrow.PrimitiveTypes.Int64), col("_partition", arrow.PrimitiveTypes.Int32),
				col("_offset", arrow.PrimitiveTypes.Int64), col("_timestamp", &arrow.TimestampType{Unit: arrow.Millisecond}),
				col("_key", arrow.BinaryTypes.String)),
			values: []string{`{"value":7}`, `{"value":8}`},
			want:   []string{"7|0|0|2026-01-01 00:00:05|k0", "8|0|1|2026-01-01 00:00:05|k1"}},
		{name: "metadata-only", format: "raw",
			declared: schema(col("value", arrow.BinaryTypes.String), col("_offset", arrow.PrimitiveTypes.Int64)), cols: []int{1},
			values: []string{"x", "y"}, want: []string{"0", "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			_, addr := newCluster(t, map[string]int32{"t": 1})
			cl := manualClient(t, addr)
			for i, v := range tc.values {
				r := rec("t", 0, v)
				r.Key = []byte(fmt.Sprintf("k%d", i))
				r.Timestamp = ts
				produceTo(t, cl, r)
			}
			r := openSource(t, mem, opts("topic", "t", "brokers", addr, "format", tc.format), tc.declared,
				exec.ScanSpec{Bounded: true, Columns: tc.cols})
			if got := readAll(t, r); !equal(got, sorted(tc.want...)) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBoundedToEndOffsets: a bounded scan stops at the end offsets of Open,
// per partition, and reports them as its final Offsets.
func TestBoundedToEndOffsets(t *testing.T) {
	for _, batch := range []int{1, 3, 1024} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			mem := checkedMem(t)
			_, addr := newCluster(t, map[string]int32{"t": 3})
			cl := manualClient(t, addr)
			counts := []int{5, 0, 2}
			var want []string
			for p, n := range counts {
				for i := 0; i < n; i++ {
					v := fmt.Sprintf("p%d-%d", p, i)
					produceTo(t, cl, rec("t", int32(p), v))
					want = append(want, v)
				}
			}
			r := openSource(t, mem, opts("topic", "t", "brokers", addr, "format", "raw"), nil,
				exec.ScanSpec{Bounded: true, BatchSize: batch})
			produceTo(t, cl, rec("t", 0, "late"), rec("t", 1, "late"))
			got := readAll(t, r)
			if !equal(got, sorted(want...)) {
				t.Fatalf("got %v, want %v", got, want)
			}
			offs := r.Offsets()
			wantOffs := exec.Offsets{"t/0": 5, "t/1": 0, "t/2": 2}
			if fmt.Sprint(offs) != fmt.Sprint(wantOffs) {
				t.Fatalf("offsets %v, want %v", offs, wantOffs)
			}
			if _, err := r.Next(context.Background()); !errors.Is(err, io.EOF) {
				t.Fatalf("after the end: %v, want io.EOF", err)
			}
		})
	}
}

// TestBatchPerPartition: every batch holds rows of one partition, tagged
// with it, and no batch exceeds BatchSize.
func TestBatchPerPartition(t *testing.T) {
	mem := checkedMem(t)
	_, addr := newCluster(t, map[string]int32{"t": 2})
	cl := manualClient(t, addr)
	for i := 0; i < 10; i++ {
		produceTo(t, cl, rec("t", int32(i%2), fmt.Sprint(i%2)))
	}
	r := openSource(t, mem, opts("topic", "t", "brokers", addr, "format", "raw"), nil, exec.ScanSpec{Bounded: true, BatchSize: 3})
	total := 0
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Record.NumRows() > 3 {
			t.Errorf("batch of %d rows, BatchSize 3", b.Record.NumRows())
		}
		for _, row := range rowsOf(b.Record) {
			if row != fmt.Sprint(b.Partition) {
				t.Errorf("row %q in batch of partition %d", row, b.Partition)
			}
		}
		total += int(b.Record.NumRows())
		b.Record.Release()
	}
	if total != 10 {
		t.Fatalf("read %d rows, want 10", total)
	}
}

// TestLingerPartialBatch: in continuous mode a partial batch comes out
// once the linger passed, not when BatchSize rows arrived.
func TestLingerPartialBatch(t *testing.T) {
	mem := checkedMem(t)
	_, addr := newCluster(t, map[string]int32{"t": 1})
	r := openSource(t, mem, opts("topic", "t", "brokers", addr, "format", "raw"), nil,
		exec.ScanSpec{BatchSize: 1000, Linger: 50 * time.Millisecond})
	produce(t, addr, rec("t", 0, "a"), rec("t", 0, "b"), rec("t", 0, "c"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := 0
	for n < 3 {
		b, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("linger did not return a partial batch: %v", err)
		}
		n += int(b.Record.NumRows())
		b.Record.Release()
	}
	// With nothing more arriving, Next blocks until its context ends.
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := r.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle Next: %v, want deadline exceeded", err)
	}
}

// TestResumeFrom: spec.From resumes exactly at the offsets a previous
// reader reported.
func TestResumeFrom(t *testing.T) {
	mem := checkedMem(t)
	_, addr := newCluster(t, map[string]int32{"t": 2})
	cl := manualClient(t, addr)
	var all []string
	for i := 0; i < 8; i++ {
		v := fmt.Sprint(i)
		produceTo(t, cl, rec("t", int32(i%2), v))
		all = append(all, v)
	}
	r1 := openSource(t, mem, opts("topic", "t", "brokers", addr, "format", "raw"), nil, exec.ScanSpec{BatchSize: 2, Linger: time.Millisecond})
	first := readN(t, r1, 3, 10*time.Second)
	from := r1.Offsets()
	r1.Close()
	r2 := openSource(t, mem, opts("topic", "t", "brokers", addr, "format", "raw"), nil, exec.ScanSpec{Bounded: true, From: from})
	rest := readAll(t, r2)
	got := sorted(append(first, rest...)...)
	if !equal(got, sorted(all...)) {
		t.Fatalf("first %v + rest %v != all %v (from %v)", first, rest, all, from)
	}
}

func TestBadRecordPolicies(t *testing.T) {
	values := []string{`{"category":"a","value":1}`, `{"category":"b","value":"abc"}`, `{"category":"c","value":3}`}
	t.Run("fail", func(t *testing.T) {
		mem := checkedMem(t)
		_, addr := newCluster(t, map[string]int32{"orders": 1})
		cl := manualClient(t, addr)
		for _, v := range values {
			produceTo(t, cl, rec("orders", 0, v))
		}
		r := openSource(t, mem, opts("topic", "orders", "brokers", addr, "format", "json"), ordersSchema, exec.ScanSpec{Bounded: true})
		var got []string
		var err error
		for {
			var b exec.Batch
			b, err = r.Next(context.Background())
			if err != nil {
				break
			}
			got = append(got, rowsOf(b.Record)...)
			b.Record.Release()
		}
		const want = `kafka orders/0/1: column "value": cannot parse "abc" as BIGINT`
		if err == nil || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
		var fe *format.FieldError
		if !errors.As(err, &fe) || fe.Column != "value" {
			t.Fatalf("error %v does not unwrap to a FieldError", err)
		}
		if !equal(got, []string{"a|1"}) {
			t.Fatalf("rows before the bad one: %v", got)
		}
		if off := r.Offsets()["orders/0"]; off != 1 {
			t.Fatalf("offset after failure %d, want 1 (the bad record)", off)
		}
	})
	// Flink's 'json.ignore-parse-errors' = 'true' is on_error = 'skip'.
	for name, skip := range map[string][]string{"skip": {"on_error", "skip"}, "json.ignore-parse-errors": {"json.ignore-parse-errors", "true"}} {
		t.Run(name, func(t *testing.T) {
			mem := checkedMem(t)
			_, addr := newCluster(t, map[string]int32{"orders": 1})
			cl := manualClient(t, addr)
			for _, v := range values {
				produceTo(t, cl, rec("orders", 0, v))
			}
			r := openSource(t, mem, opts(append([]string{"topic", "orders", "brokers", addr, "format", "json"}, skip...)...), ordersSchema, exec.ScanSpec{Bounded: true})
			if got := readAll(t, r); !equal(got, []string{"a|1", "c|3"}) {
				t.Fatalf("got %v", got)
			}
			if s, d := r.Skipped(); s != 1 || d != 0 {
				t.Fatalf("skipped %d, dead-lettered %d; want 1, 0", s, d)
			}
		})
	}
	t.Run("dead-letter", func(t *testing.T) {
		mem := checkedMem(t)
		_, addr := newCluster(t, map[string]int32{"orders": 1, "dlq": 1})
		cl := manualClient(t, addr)
		for _, v := range values {
			r := rec("orders", 0, v)
			r.Key = []byte("key-" + v[13:14])
			produceTo(t, cl, r)
		}
		r := openSource(t, mem, opts("topic", "orders", "brokers", addr, "format", "json",
			"on_error", "dead-letter", "dead-letter.topic", "dlq"), ordersSchema, exec.ScanSpec{Bounded: true})
		if got := readAll(t, r); !equal(got, []string{"a|1", "c|3"}) {
			t.Fatalf("got %v", got)
		}
		if _, d := r.Skipped(); d != 1 {
			t.Fatalf("dead-lettered %d, want 1", d)
		}
		consumer := manualClient(t, addr, kgo.ConsumeTopics("dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		recs := fs.Records()
		if len(recs) != 1 {
			t.Fatalf("dead-letter topic has %d records, want 1", len(recs))
		}
		d := recs[0]
		if string(d.Value) != values[1] || string(d.Key) != "key-b" {
			t.Fatalf("dead letter %q/%q, want the bad record", d.Key, d.Value)
		}
		var hdr string
		for _, h := range d.Headers {
			if h.Key == DeadLetterErrorHeader {
				hdr = string(h.Value)
			}
		}
		if want := `kafka orders/0/1: column "value": cannot parse "abc" as BIGINT`; hdr != want {
			t.Fatalf("header %s = %q, want %q", DeadLetterErrorHeader, hdr, want)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	_, addr := newCluster(t, map[string]int32{"t": 1})
	tests := []struct {
		name     string
		opts     []string
		declared *arrow.Schema
		want     string
	}{
		{"missing topic", []string{"topic", "nope", "brokers", addr}, ordersSchema, `topic "nope" does not exist`},
		{"unreachable", []string{"topic", "t", "brokers", "127.0.0.1:1", "connect.timeout", "1s"}, ordersSchema, "cannot reach brokers 127.0.0.1:1 (failed after"},
		{"no schema csv", []string{"topic", "t", "brokers", addr, "format", "csv"}, nil, "needs a declared schema"},
		{"no schema empty topic", []string{"topic", "t", "brokers", addr, "format", "json"}, nil, "cannot infer the columns of an empty topic"},
		{"bad mode", []string{"topic", "t", "brokers", addr, "scan.startup.mode", "sometime"}, ordersSchema, "scan.startup.mode"},
		{"group-offsets without group", []string{"topic", "t", "brokers", addr, "scan.startup.mode", "group-offsets"}, ordersSchema, "needs 'group.id'"},
		{"bad meta type", []string{"topic", "t", "brokers", addr}, schema(col("_offset", arrow.BinaryTypes.String)), `metadata column "_offset"`},
		{"json option on csv", []string{"topic", "t", "brokers", addr, "format", "csv", "json.ignore-parse-errors", "true"}, ordersSchema, "'json.ignore-parse-errors' applies to the JSON formats, not format csv"},
		{"json option not a bool", []string{"topic", "t", "brokers", addr, "json.ignore-parse-errors", "yes"}, ordersSchema, "'json.ignore-parse-errors' must be true or false"},
		{"ignore-parse-errors against on_error", []string{"topic", "t", "brokers", addr, "json.ignore-parse-errors", "true", "on_error", "fail"}, ordersSchema, "is on_error = 'skip', not on_error = \"fail\""},
		{"fail-on-missing-field", []string{"topic", "t", "brokers", addr, "json.fail-on-missing-field", "true"}, ordersSchema, "declare the column NOT NULL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			start := time.Now()
			src, err := NewSource(opts(tc.opts...), tc.declared)
			if err == nil {
				var r *Reader
				r, err = src.OpenReader(context.Background(), mem, exec.ScanSpec{})
				if err == nil {
					r.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
}

// TestInferJSONSchema: without declared columns a json source samples the
// topic and infers them.
func TestInferJSONSchema(t *testing.T) {
	mem := checkedMem(t)
	_, addr := newCluster(t, map[string]int32{"orders": 2})
	cl := manualClient(t, addr)
	produceTo(t, cl, rec("orders", 0, `{"category":"a","value":1,"ts":"2026-01-01 00:00:05"}`),
		rec("orders", 1, `{"category":"b","value":2.5,"ts":"2026-01-01 00:00:06"}`))
	src, err := NewSource(opts("topic", "orders", "brokers", addr, "format", "json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range src.Schema().Fields() {
		got = append(got, f.Name+" "+format.SQLTypeName(f.Type))
	}
	want := []string{"category VARCHAR", "value DOUBLE", "ts TIMESTAMP"}
	if !equal(got, want) {
		t.Fatalf("inferred %v, want %v", got, want)
	}
	r, err := src.OpenReader(context.Background(), mem, exec.ScanSpec{Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if rows := readAll(t, r); !equal(rows, []string{"a|1|2026-01-01 00:00:05", "b|2.5|2026-01-01 00:00:06"}) {
		t.Fatalf("rows %v", rows)
	}
}

// TestDeclaredRulesOnRead: a record breaking a declared NOT NULL or
// UNSIGNED column fails the scan naming topic/partition/offset, or goes
// the way of any bad record under on_error.
func TestDeclaredRulesOnRead(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		exec.MarkNotNull(arrow.Field{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true}),
		exec.MarkUnsigned(arrow.Field{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true}),
	}, nil)
	values := []string{`{"category":"a","value":1}`, `{"value":2}`, `{"category":"c","value":-3}`, `{"category":"d","value":4}`}
	for _, tc := range []struct {
		policy string
		want   []string
		err    string
	}{
		{"fail", []string{"a|1"}, `kafka orders/0/1: column "category" is NOT NULL, but the value is NULL or missing`},
		{"skip", []string{"a|1", "d|4"}, ""},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			mem := checkedMem(t)
			_, addr := newCluster(t, map[string]int32{"orders": 1})
			cl := manualClient(t, addr)
			for _, v := range values {
				produceTo(t, cl, rec("orders", 0, v))
			}
			r := openSource(t, mem, opts("topic", "orders", "brokers", addr, "format", "json", "on_error", tc.policy), schema, exec.ScanSpec{Bounded: true})
			var got []string
			var err error
			for {
				var b exec.Batch
				if b, err = r.Next(context.Background()); err != nil {
					break
				}
				got = append(got, rowsOf(b.Record)...)
				b.Record.Release()
			}
			if tc.err == "" && err != io.EOF || tc.err != "" && (err == nil || err.Error() != tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if !equal(got, tc.want) {
				t.Fatalf("rows %v, want %v", got, tc.want)
			}
		})
	}
}
