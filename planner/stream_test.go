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

// streamingSection returns the streaming physical plan and the Streaming
// section of EXPLAIN.
func streamingSection(t *testing.T, qp *QueryPlan) string {
	t.Helper()
	text := Explain(qp)
	i := strings.Index(text, "Physical plan (streaming):\n")
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
			want: `Physical plan (streaming):
  TopN: n DESC limit=3 two-phase: a top-N per instance partitioned by rows, merged by one [retract, state: every live input row]
    Project: op, page, count(*) AS n [upsert key=[page]]
      GroupAggregate: keys=[page] aggs=[count(*)] partitioned by keys [upsert key=[page], state: unbounded (warning)]
        Scan: events columns=[page] [append]
Streaming:
  output: retract
  emit: CHANGES
  watermark: none
  warning: state of GROUP BY page grows without bound on an unbounded source: add a window or a watermark
`,
		},
		{
			name:  "window with watermark, EMIT FINAL, routed late rows",
			opts:  map[string]string{"watermark.idle_timeout": "10s", "late.sink": "late"},
			query: "SELECT window_start, page, COUNT(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE) GROUP BY window_start, page EMIT FINAL",
			want: `Physical plan (streaming):
  Project: window_start, page, count(*) AS n [append]
    Project: window_start, page, count(*) [append]
      WindowAggregate: tumble(ts, 1m0s) keys=[page] aggs=[count(*)] emit=on close partitioned by keys [append, state: bounded by watermark on ts]
        Scan: clicks columns=[page, ts] [append]
Streaming:
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
			want: `Physical plan (streaming):
  Project: page [append]
    Filter: user_id > 3 [append]
      Scan: clicks columns=[page, user_id] filters=[user_id gt 3] [append]
Streaming:
  output: append
  emit: EVERY 5s FULL
  watermark: ts - 5s
  late data: error
`,
		},
		{
			name:  "hop on a column other than the watermark's, EVERY 2m",
			query: "SELECT window_end, MAX(user_id) FROM HOP(clicks, other_ts, INTERVAL '1' MINUTE, INTERVAL '2' MINUTE) GROUP BY window_end EMIT EVERY INTERVAL '2' MINUTE",
			want: `Physical plan (streaming):
  Project: op, window_end, max(user_id) AS MAX(user_id) [upsert key=[window_end]]
    GroupAggregate: keys=[window_end] aggs=[max(user_id)] partitioned by keys, changes held to each trigger [upsert key=[window_end], state: unbounded (warning)]
      Window: hop(other_ts, slide=1m0s, size=2m0s) [append]
        Scan: clicks columns=[user_id, other_ts] [append]
Streaming:
  output: upsert key=[window_end]
  emit: EVERY 2m
  watermark: ts - 5s
  late data: drop
  warning: windows are on other_ts but the watermark tracks ts: lateness and window closing follow ts
  warning: state of GROUP BY window_end keeps every window under EMIT EVERY 2m: the windows are not on the watermark column ts, so none is freed
`,
		},
		{
			name:  "EVERY over a top-N of an aggregate: the aggregate emits per batch",
			query: "SELECT page, COUNT(*) AS n FROM events GROUP BY page ORDER BY n DESC LIMIT 3 EMIT EVERY 5s",
			want: `Physical plan (streaming):
  TopN: n DESC limit=3 two-phase: a top-N per instance partitioned by rows, merged by one [retract, state: every live input row]
    Project: op, page, count(*) AS n [upsert key=[page]]
      GroupAggregate: keys=[page] aggs=[count(*)] partitioned by keys [upsert key=[page], state: unbounded (warning)]
        Scan: events columns=[page] [append]
Streaming:
  output: retract
  emit: EVERY 5s
  watermark: none
  warning: state of GROUP BY page grows without bound on an unbounded source: add a window or a watermark
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

// statefulKinds lists the stateful nodes of si.Plan, root first, by the
// kind EXPLAIN names them with.
func statefulKinds(si *StreamInfo) string {
	var kinds []string
	var walk func(p PhysicalPlan)
	walk = func(p PhysicalPlan) {
		if _, ok := si.Bound(p); ok {
			kinds = append(kinds, nodeKind(p))
		}
		for _, c := range p.Children() {
			walk(c)
		}
	}
	walk(si.Plan)
	return strings.Join(kinds, ",")
}

func TestStreamingInfo(t *testing.T) {
	type want struct {
		mode          ChangelogKind
		ops           string
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
			want{mode: Upsert, ops: "GroupAggregate", late: LateDrop, warnings: 1}},
		{"SELECT COUNT(*) FROM events EMIT EVERY 1s", nil,
			want{mode: Upsert, ops: "GroupAggregate", bounded: true, late: LateDrop}},
		{"SELECT page, COUNT(*) FROM logs GROUP BY page EMIT CHANGES", nil,
			want{mode: Upsert, ops: "GroupAggregate", bounded: true, late: LateDrop}},
		{"SELECT DISTINCT page FROM events EMIT CHANGES", nil,
			want{mode: Upsert, ops: "GroupAggregate", late: LateDrop, warnings: 1}},
		{"SELECT window_start, COUNT(*) FROM SESSION(clicks, ts, INTERVAL '30' SECOND) GROUP BY window_start EMIT FINAL",
			map[string]string{"late.policy": "error", "watermark.idle_timeout": "1 MINUTE"},
			want{mode: Append, ops: "WindowAggregate", windowed: true, bounded: true, late: LateError, idle: time.Minute}},
		// The updating window aggregate frees the windows the watermark
		// closes: its state is bounded.
		{"SELECT window_start, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT CHANGES", nil,
			want{mode: Upsert, ops: "WindowAggregate", windowed: true, bounded: true, late: LateDrop}},
		{"SELECT window_start, COUNT(*) FROM HOP(clicks, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY window_start EMIT EVERY INTERVAL '1' SECOND", nil,
			want{mode: Upsert, ops: "WindowAggregate", windowed: true, bounded: true, late: LateDrop}},
		// A window over a source without a watermark never closes.
		{"SELECT window_start, COUNT(*) FROM TUMBLE(events, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT CHANGES", nil,
			want{mode: Upsert, ops: "GroupAggregate", late: LateDrop, warnings: 2}},
		// A window that is not grouped by is only a stateless assignment.
		{"SELECT page, window_start FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) EMIT CHANGES", nil,
			want{mode: Retract, bounded: true, late: LateDrop}},
		{"SELECT page FROM clicks WHERE user_id > 3 EMIT EVERY 5s", nil,
			want{mode: Append, bounded: true, late: LateDrop}},
		{"SELECT page FROM events ORDER BY user_id LIMIT 5 EMIT CHANGES", map[string]string{"late.policy": "drop"},
			want{mode: Retract, ops: "TopN", bounded: true, late: LateDrop}},
		// An aggregate over an updating aggregate consumes its retractions.
		{"SELECT n, COUNT(*) FROM (SELECT page, COUNT(*) AS n FROM logs GROUP BY page) x GROUP BY n EMIT CHANGES", nil,
			want{mode: Upsert, ops: "GroupAggregate,GroupAggregate", bounded: true, late: LateDrop}},
		// UNION ALL: one stateless branch per source, nested unions
		// flattened into one.
		{"SELECT page, COUNT(*) FROM (SELECT page FROM clicks UNION ALL SELECT page FROM events UNION ALL SELECT page FROM logs) u GROUP BY page EMIT CHANGES", nil,
			want{mode: Upsert, ops: "GroupAggregate", late: LateDrop, warnings: 1}},
		{"SELECT page FROM clicks WHERE user_id > 1 UNION ALL SELECT page FROM logs EMIT CHANGES", nil,
			want{mode: Retract, bounded: true, late: LateDrop}},
		{"SELECT page, COUNT(*) FROM (SELECT page FROM events ORDER BY page LIMIT 10) x GROUP BY page EMIT CHANGES", nil,
			want{mode: Upsert, ops: "GroupAggregate,TopN", late: LateDrop, warnings: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			qp := mustPlan(t, streamCatalog(t, tt.opts), tt.query)
			si := qp.Stream
			if si == nil {
				t.Fatal("Stream is nil for an EMIT query")
			}
			got := want{mode: si.Mode.Kind, ops: statefulKinds(si), windowed: si.Windowed, bounded: si.StateBounded,
				appendWindows: si.AppendWindows, late: si.LatePolicy, idle: si.IdleTimeout, warnings: len(si.Warnings)}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v\nwarnings %q", got, tt.want, si.Warnings)
			}
			if si.Scan == nil || si.Modes[si.Scan].Updating() || si.Modes[si.Plan].Kind != si.Mode.Kind {
				t.Errorf("node modes: scan %v root %v", si.Modes[si.Scan], si.Modes[si.Plan])
			}
			// Every node of the plan has a mode, and a node emits the op
			// column exactly when its mode is a changelog.
			var walk func(p PhysicalPlan)
			walk = func(p PhysicalPlan) {
				m, ok := si.Modes[p]
				if !ok {
					t.Errorf("node %s has no mode", p)
				}
				hasOp := p.Schema().Len() > 0 && p.Schema().Fields[0].Name == OpColumn
				if hasOp != m.Updating() {
					t.Errorf("node %s: mode %s but op column %v", p, m.Format(p.Schema()), hasOp)
				}
				for _, k := range m.Key {
					if k <= 0 || k >= p.Schema().Len() {
						t.Errorf("node %s: key column %d out of range", p, k)
					}
				}
				for _, c := range p.Children() {
					walk(c)
				}
			}
			walk(si.Plan)
			if n := strings.Count(tt.query, "UNION ALL"); n > 0 {
				u := findUnion(si.Plan)
				if u == nil {
					t.Fatal("no union in the streaming plan")
				}
				if len(u.Inputs) != n+1 || len(si.Scans) != n+1 {
					t.Errorf("union of %d inputs over %d scans, want one union of %d", len(u.Inputs), len(si.Scans), n+1)
				}
			}
		})
	}
}

func findUnion(p PhysicalPlan) *PhysUnionAll {
	if u, ok := p.(*PhysUnionAll); ok {
		return u
	}
	for _, c := range p.Children() {
		if u := findUnion(c); u != nil {
			return u
		}
	}
	return nil
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
		{"SELECT c.page FROM clicks c JOIN events e ON c.page > e.page EMIT CHANGES", nil,
			"a streaming join needs an equality between the inputs"},
		{"SELECT page, COUNT(*) FROM clicks GROUP BY page UNION ALL SELECT page, COUNT(*) FROM events GROUP BY page EMIT CHANGES", nil,
			"UNION ALL of aggregated or top-N results is not supported in streaming mode yet"},
		{"SELECT page FROM clicks UNION ALL SELECT page FROM logs EMIT CHANGES", map[string]string{"late.policy": "error"},
			"sources clicks and logs of one streaming query set 'late.policy', 'late.sink' or 'watermark.idle_timeout' differently"},
		{"SELECT page, COUNT(*) AS n FROM events GROUP BY page ORDER BY n EMIT CHANGES", nil,
			"ORDER BY without LIMIT on an updating result is not supported in streaming mode yet"},
		{"SELECT page, COUNT(*) AS n FROM events GROUP BY page LIMIT 3 EMIT EVERY 5s", nil,
			"LIMIT without ORDER BY on an updating result is not supported in streaming mode yet"},
		{"SELECT page, user_id FROM logs ORDER BY page EMIT CHANGES", nil,
			"ORDER BY without LIMIT is not supported in streaming mode yet"},
		{"SELECT page FROM events LIMIT 5 EMIT CHANGES", nil,
			"LIMIT without ORDER BY is not supported in streaming mode yet: add ORDER BY"},
		{"SELECT page, COUNT(*) AS n FROM events GROUP BY page ORDER BY n LIMIT 3 OFFSET 1 EMIT CHANGES", nil,
			"OFFSET is not supported in streaming mode yet"},
		{"SELECT window_start, COUNT(*) FROM TUMBLE(clicks, other_ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT FINAL", nil,
			"EMIT FINAL of windows on other_ts needs them on the watermark column ts of source clicks"},
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
			if tt.appendWins && (si.Mode.Updating() || statefulKinds(si) != "WindowAggregate") {
				t.Errorf("append windows: mode %s operators %s", si.Mode.Format(si.Plan.Schema()), statefulKinds(si))
			}
			if tt.appendWins && !strings.Contains(Explain(qp), "emit=on close (append windows) [append, state: bounded by watermark on ts]") {
				t.Errorf("EXPLAIN lacks the append-windows note:\n%s", Explain(qp))
			}
		})
	}
}
