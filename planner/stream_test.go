package planner

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sluicesql/sluice/sql"
)

// streamCatalog has unbounded sources: clicks (WATERMARK ts - 5s, idle
// timeout and a late sink), events (no watermark); and sinks out (file),
// k (kafka), late (file).
func streamCatalog(t *testing.T, clickOpts map[string]string) *MemCatalog {
	t.Helper()
	cat := NewCatalog()
	schema := func() *arrow.Schema {
		return arrow.NewSchema([]arrow.Field{
			{Name: "page", Type: TypeVarchar, Nullable: true},
			{Name: "user_id", Type: TypeBigInt, Nullable: true},
			{Name: "ts", Type: TypeTimestamp, Nullable: true},
			{Name: "other_ts", Type: TypeTimestamp, Nullable: true},
		}, nil)
	}
	opts := map[string]string{"connector": "kafka"}
	for k, v := range clickOpts {
		opts[k] = v
	}
	for _, s := range []*SourceDef{
		{Name: "clicks", Schema: schema(), Options: opts, Watermark: &WatermarkDef{Column: "ts", Delay: 5 * time.Second}},
		{Name: "events", Schema: schema(), Options: map[string]string{"connector": "kafka"}},
		{Name: "logs", Schema: schema(), Options: map[string]string{"connector": "file"}, Bounded: true},
	} {
		if err := cat.AddSource(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*SinkDef{
		{Name: "out", Options: map[string]string{"connector": "file", "path": "out/"}, AppendOnly: true},
		{Name: "k", Options: map[string]string{"connector": "kafka"}},
		{Name: "late", Options: map[string]string{"connector": "file"}, AppendOnly: true},
	} {
		if err := cat.AddSink(s); err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

// streamingSection returns the Streaming section of EXPLAIN.
func streamingSection(t *testing.T, qp *QueryPlan) string {
	t.Helper()
	text := Explain(qp)
	i := strings.Index(text, "Streaming:\n")
	if i < 0 {
		t.Fatalf("EXPLAIN has no Streaming section:\n%s", text)
	}
	return text[i:]
}

func TestStreamingExplain(t *testing.T) {
	tests := []struct {
		name  string
		opts  map[string]string
		query string
		want  string
	}{
		{
			name:  "plain group by on an unbounded source",
			query: "SELECT page, COUNT(*) AS n FROM events GROUP BY page ORDER BY n DESC LIMIT 3 EMIT CHANGES",
			want: `Streaming:
  TopN: n DESC limit=3 [updating]
    Project: page, count(*) AS n [updating]
      HashAggregate: keys=[page] aggs=[count(*)] [updating, GroupAggregate, state: unbounded (warning)]
        Scan: events columns=[page] [append]
  output: updating
  emit: CHANGES
  watermark: none
  warning: state of GROUP BY page grows without bound on an unbounded source: add a window or a watermark
`,
		},
		{
			name:  "window with watermark, EMIT FINAL, routed late rows",
			opts:  map[string]string{"watermark.idle_timeout": "10s", "late.sink": "late"},
			query: "SELECT window_start, page, COUNT(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE) GROUP BY window_start, page EMIT FINAL",
			want: `Streaming:
  Project: window_start, page, count(*) AS n [append]
    HashAggregate: keys=[window_start, page] aggs=[count(*)] [append, WindowAggregate, state: bounded by watermark on ts]
      Window: tumble(ts, 1m0s) [append]
        Scan: clicks columns=[page, ts] [append]
  output: append
  emit: FINAL
  watermark: ts - 5s (idle timeout 10s)
  late data: route to late
`,
		},
		{
			name:  "stateless micro-batch",
			opts:  map[string]string{"late.policy": "ERROR"},
			query: "SELECT page FROM clicks WHERE user_id > 3 EMIT EVERY 5s FULL",
			want: `Streaming:
  Project: page [append]
    Filter: user_id > 3 [append]
      Scan: clicks columns=[page, user_id] filters=[user_id gt 3] [append]
  output: append
  emit: EVERY 5s FULL
  watermark: ts - 5s
  late data: error
`,
		},
		{
			name:  "hop on a column other than the watermark's, EVERY 2m",
			query: "SELECT window_end, MAX(user_id) FROM HOP(clicks, other_ts, INTERVAL '1' MINUTE, INTERVAL '2' MINUTE) GROUP BY window_end EMIT EVERY INTERVAL '2' MINUTE",
			want: `Streaming:
  Project: window_end, max(user_id) AS MAX(user_id) [updating]
    HashAggregate: keys=[window_end] aggs=[max(user_id)] [updating, GroupAggregate, state: unbounded (warning)]
      Window: hop(other_ts, slide=1m0s, size=2m0s) [append]
        Scan: clicks columns=[user_id, other_ts] [append]
  output: updating
  emit: EVERY 2m
  watermark: ts - 5s
  late data: drop
  warning: windows are on other_ts but the watermark tracks ts: lateness and window closing follow ts
  warning: state of GROUP BY window_end keeps every window under EMIT EVERY 2m: the windows are not on the watermark column ts, so none is freed
`,
		},
		{
			name:  "bounded source, sort of an append result",
			query: "SELECT page, user_id FROM logs ORDER BY page EMIT CHANGES",
			want: `Streaming:
  Sort: page [append]
    Scan: logs columns=[page, user_id] [append]
  output: append
  emit: CHANGES
  watermark: none
  warning: ORDER BY without LIMIT sorts each emitted batch, not the whole stream
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := streamCatalog(t, tt.opts)
			qp := mustPlan(t, cat, tt.query)
			if got := streamingSection(t, qp); got != tt.want {
				t.Errorf("Streaming section:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestStreamingInfo(t *testing.T) {
	type want struct {
		mode          ChangelogMode
		op            string
		windowed      bool
		bounded       bool
		appendWindows bool
		late          string
		idle          time.Duration
		warnings      int
	}
	tests := []struct {
		query string
		opts  map[string]string
		want  want
	}{
		{"SELECT page, COUNT(*) FROM events GROUP BY page EMIT CHANGES", nil,
			want{mode: Updating, op: OpGroupAggregate, late: LateDrop, warnings: 1}},
		{"SELECT COUNT(*) FROM events EMIT EVERY 1s", nil,
			want{mode: Updating, op: OpGroupAggregate, bounded: true, late: LateDrop}},
		{"SELECT page, COUNT(*) FROM logs GROUP BY page EMIT CHANGES", nil,
			want{mode: Updating, op: OpGroupAggregate, bounded: true, late: LateDrop}},
		{"SELECT DISTINCT page FROM events EMIT CHANGES", nil,
			want{mode: Updating, op: OpGroupAggregate, late: LateDrop, warnings: 1}},
		{"SELECT window_start, COUNT(*) FROM SESSION(clicks, ts, INTERVAL '30' SECOND) GROUP BY window_start EMIT FINAL",
			map[string]string{"late.policy": "error", "watermark.idle_timeout": "1 MINUTE"},
			want{mode: Append, op: OpWindowAggregate, windowed: true, bounded: true, late: LateError, idle: time.Minute}},
		// The updating window aggregate frees the windows the watermark
		// closes: its state is bounded.
		{"SELECT window_start, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT CHANGES", nil,
			want{mode: Updating, op: OpWindowAggregate, windowed: true, bounded: true, late: LateDrop}},
		{"SELECT window_start, COUNT(*) FROM HOP(clicks, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY window_start EMIT EVERY INTERVAL '1' SECOND", nil,
			want{mode: Updating, op: OpWindowAggregate, windowed: true, bounded: true, late: LateDrop}},
		// A window over a source without a watermark never closes.
		{"SELECT window_start, COUNT(*) FROM TUMBLE(events, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT CHANGES", nil,
			want{mode: Updating, op: OpGroupAggregate, late: LateDrop, warnings: 2}},
		// A window that is not grouped by is only a stateless assignment.
		{"SELECT page, window_start FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) EMIT CHANGES", nil,
			want{mode: Append, late: LateDrop}},
		{"SELECT page FROM events ORDER BY user_id LIMIT 5 EMIT CHANGES", map[string]string{"late.policy": "drop"},
			want{mode: Updating, late: LateDrop}},
		{"SELECT page FROM events LIMIT 5 EMIT CHANGES", nil, want{mode: Append, late: LateDrop}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			qp := mustPlan(t, streamCatalog(t, tt.opts), tt.query)
			si := qp.Stream
			if si == nil {
				t.Fatal("Stream is nil for an EMIT query")
			}
			got := want{mode: si.Mode, op: si.Operator, windowed: si.Windowed, bounded: si.StateBounded,
				appendWindows: si.AppendWindows, late: si.LatePolicy, idle: si.IdleTimeout, warnings: len(si.Warnings)}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v\nwarnings %q", got, tt.want, si.Warnings)
			}
			if si.Scan == nil || si.Nodes[si.Scan] != Append || si.Nodes[qp.Physical] != si.Mode {
				t.Errorf("node modes: scan %v root %v", si.Nodes[si.Scan], si.Nodes[qp.Physical])
			}
			if (si.Operator != "") != (si.Stateful != nil) {
				t.Errorf("operator %q with stateful node %v", si.Operator, si.Stateful)
			}
		})
	}
}

func TestBatchQueryHasNoStreamInfo(t *testing.T) {
	qp := mustPlan(t, streamCatalog(t, map[string]string{"late.policy": "bogus"}), "SELECT page, COUNT(*) FROM clicks GROUP BY page ORDER BY page")
	if qp.Stream != nil {
		t.Errorf("Stream = %+v for a batch query", qp.Stream)
	}
	if strings.Contains(Explain(qp), "Streaming:") {
		t.Errorf("batch EXPLAIN has a Streaming section:\n%s", Explain(qp))
	}
}

// wantPlanError checks err is a PlanError containing msg at offset.
func wantPlanError(t *testing.T, err error, msg string, offset int) {
	t.Helper()
	var se *sql.Error
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want *sql.Error", err)
	}
	if se.Kind != sql.PlanError || !strings.Contains(se.Msg, msg) || se.Pos.Offset != offset || se.Pos.Line != 1 {
		t.Errorf("error = %q (%s at %+v), want %q at offset %d", se.Msg, se.Kind, se.Pos, msg, offset)
	}
}

func TestStreamingErrors(t *testing.T) {
	tests := []struct {
		query string
		opts  map[string]string
		msg   string
	}{
		{"SELECT page, COUNT(*) FROM clicks GROUP BY page EMIT FINAL", nil,
			"EMIT FINAL needs a windowed aggregate: GROUP BY window_start of TUMBLE/HOP/SESSION"},
		{"SELECT page FROM clicks EMIT FINAL", nil,
			"EMIT FINAL needs a windowed aggregate: GROUP BY window_start of TUMBLE/HOP/SESSION"},
		{"SELECT page, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) GROUP BY page EMIT FINAL", nil,
			"EMIT FINAL needs a windowed aggregate"},
		{"SELECT window_start, COUNT(*) FROM TUMBLE(events, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT FINAL", nil,
			"EMIT FINAL needs a WATERMARK FOR on source events"},
		{"SELECT c.page FROM clicks c JOIN events e ON c.user_id = e.user_id EMIT CHANGES", nil,
			"JOIN is not supported in streaming mode yet"},
		{"SELECT page FROM clicks UNION ALL SELECT page FROM events EMIT CHANGES", nil,
			"UNION is not supported in streaming mode yet"},
		{"SELECT page, COUNT(*) AS n FROM events GROUP BY page ORDER BY n EMIT CHANGES", nil,
			"ORDER BY without LIMIT on an updating result is not supported in streaming mode yet"},
		{"SELECT page, COUNT(*) AS n FROM events GROUP BY page LIMIT 3 EMIT EVERY 5s", nil,
			"LIMIT without ORDER BY on an updating result is not supported in streaming mode yet"},
		{"SELECT n, COUNT(*) FROM (SELECT page, COUNT(*) AS n FROM events GROUP BY page) x GROUP BY n EMIT CHANGES", nil,
			"more than one aggregation level"},
		{"SELECT page, COUNT(*) FROM (SELECT page FROM events ORDER BY page LIMIT 10) x GROUP BY page EMIT CHANGES", nil,
			"TopN below the aggregation is not supported in streaming mode yet"},
		{"SELECT 1 EMIT CHANGES", nil, "EMIT needs a source to stream from (FROM)"},
		{"SELECT window_start, COUNT(*) FROM SESSION(clicks, ts, INTERVAL '1' MINUTE) GROUP BY window_start EMIT CHANGES", nil,
			"SESSION windows need EMIT FINAL"},
		{"SELECT page, window_start FROM SESSION(clicks, ts, INTERVAL '1' MINUTE) EMIT EVERY 5s", nil,
			"SESSION windows need EMIT FINAL"},
		{"SELECT page FROM clicks EMIT CHANGES", map[string]string{"late.policy": "ignore"},
			`source clicks: invalid 'late.policy' = "ignore": want 'drop' or 'error'`},
		{"SELECT page FROM clicks EMIT CHANGES", map[string]string{"late.sink": "lat"},
			`source clicks: 'late.sink' names unknown sink "lat" (did you mean "late"?)`},
		{"SELECT page FROM clicks EMIT CHANGES", map[string]string{"late.sink": "late", "late.policy": "error"},
			"'late.policy' cannot be 'error'"},
		{"SELECT page FROM clicks EMIT CHANGES", map[string]string{"watermark.idle_timeout": "soon"},
			`source clicks: invalid 'watermark.idle_timeout' = "soon"`},
		{"SELECT page FROM clicks EMIT CHANGES", map[string]string{"watermark.idle_timeout": "INTERVAL '-5' SECOND"},
			"'watermark.idle_timeout' must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := PlanQuery(parseQuery(t, tt.query), streamCatalog(t, tt.opts))
			wantPlanError(t, err, tt.msg, strings.Index(tt.query, "EMIT"))
		})
	}
}

func TestPlanInsertAppendOnlySink(t *testing.T) {
	const appendOnly = `is append-only but the query produces updates: use EMIT FINAL, or aggregate over a window (TUMBLE/HOP/SESSION) with a watermark`
	tests := []struct {
		sink, query string
		err         string // "" = plans
		appendWins  bool
	}{
		{"out", "SELECT page, COUNT(*) FROM clicks GROUP BY page EMIT CHANGES", `sink "out" ` + appendOnly, false},
		{"out", "SELECT page, COUNT(*) FROM clicks GROUP BY page EMIT EVERY 5s", `sink "out" ` + appendOnly, false},
		{"out", "SELECT page FROM clicks ORDER BY page LIMIT 3 EMIT EVERY 5s", `sink "out" ` + appendOnly, false},
		{"out", "SELECT window_start, COUNT(*) FROM TUMBLE(events, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT EVERY 5s", `sink "out" ` + appendOnly, false},
		{"out", "SELECT window_start, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT EVERY 5s FULL", `EMIT EVERY … FULL re-emits the whole result`, false},
		{"out", "SELECT window_start, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT EVERY 5s", "", true},
		{"out", "SELECT window_start, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT FINAL", "", false},
		{"out", "SELECT page FROM clicks WHERE user_id > 1 EMIT CHANGES", "", false},
		{"out", "SELECT page, COUNT(*) FROM clicks GROUP BY page", "", false}, // batch
		{"k", "SELECT page, COUNT(*) FROM clicks GROUP BY page EMIT CHANGES", "", false},
		{"k", "SELECT window_start, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT EVERY 5s", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.sink+" "+tt.query, func(t *testing.T) {
			q := parseQuery(t, tt.query)
			qp, err := PlanInsert(tt.sink, q, streamCatalog(t, nil))
			if tt.err != "" {
				wantPlanError(t, err, tt.err, 0)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.Emit == nil {
				if qp.Stream != nil {
					t.Errorf("batch insert has Stream %+v", qp.Stream)
				}
				return
			}
			si := qp.Stream
			if si.AppendWindows != tt.appendWins {
				t.Errorf("AppendWindows = %v, want %v", si.AppendWindows, tt.appendWins)
			}
			if tt.appendWins && (si.Mode != Append || si.Operator != OpWindowAggregate) {
				t.Errorf("append windows: mode %s operator %s", si.Mode, si.Operator)
			}
			if tt.appendWins && !strings.Contains(Explain(qp), "[append, WindowAggregate, append windows, state: bounded by watermark on ts]") {
				t.Errorf("EXPLAIN lacks the append-windows note:\n%s", Explain(qp))
			}
		})
	}
}
