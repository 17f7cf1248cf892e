package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// TestScaleOutCheck: a streaming GROUP BY over a Kafka source read by a
// consumer group that does not group by its 'partition.key' repartitions
// through a Kafka exchange, as do windowed aggregates and per-key top-N;
// keyless ones (a window without keys, ORDER BY … LIMIT, a top-N without
// PARTITION BY) are refused unless one process reads the source.
func TestScaleOutCheck(t *testing.T) {
	for _, tc := range []struct {
		name, opts, query, wantErr string
		exchange                   bool
	}{
		{"no group", "", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", "", false},
		{"group without partition.key", ", 'group.id' = 'g'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", "", true},
		{"partition.key in another case", ", 'group.id' = 'g', 'partition.key' = 'CATEGORY'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", "", false},
		{"properties.group.id", ", 'properties.group.id' = 'g'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", "", true},
		{"grouped by partition.key", ", 'group.id' = 'g', 'partition.key' = 'category'", "SELECT category, SUM(value) FROM o WHERE value > 1 GROUP BY category EMIT CHANGES", "", false},
		{"partition.key through a projection", ", 'group.id' = 'g', 'partition.key' = 'category'", "SELECT c, SUM(v) FROM (SELECT category AS c, value * 2 AS v FROM o) t GROUP BY c EMIT CHANGES", "", false},
		{"window and partition.key", ", 'group.id' = 'g', 'partition.key' = 'category'",
			"SELECT window_start, category, SUM(value) FROM TUMBLE(o, ts, INTERVAL '5' SECOND) GROUP BY window_start, category EMIT FINAL", "", false},
		{"window only", ", 'group.id' = 'g', 'partition.key' = 'category'",
			"SELECT window_start, SUM(value) FROM TUMBLE(o, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT FINAL", "does not group by category", false},
		{"other key", ", 'group.id' = 'g', 'partition.key' = 'region'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", "", true},
		{"computed key", ", 'group.id' = 'g', 'partition.key' = 'category'", "SELECT UPPER(category), SUM(value) FROM o GROUP BY UPPER(category) EMIT CHANGES", "", true},
		{"single process", ", 'group.id' = 'g', 'scale.out' = 'false'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", "", false},
		{"stateless", ", 'group.id' = 'g'", "SELECT category, value FROM o WHERE value > 3 EMIT CHANGES", "", false},
		{"batch", ", 'group.id' = 'g'", "SELECT category, SUM(value) FROM o GROUP BY category", "", false},
		{"window on another key", ", 'group.id' = 'g', 'partition.key' = 'region'",
			"SELECT window_start, category, SUM(value) FROM TUMBLE(o, ts, INTERVAL '5' SECOND) GROUP BY window_start, category EMIT FINAL", "", true},
		{"window without partition.key", ", 'group.id' = 'g'",
			"SELECT window_start, category, SUM(value) FROM HOP(o, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY window_start, category EMIT FINAL", "", true},
		{"per-key top-N on another key", ", 'group.id' = 'g', 'partition.key' = 'region'",
			"SELECT category, value FROM (SELECT category, value, ROW_NUMBER() OVER (PARTITION BY category ORDER BY value DESC) AS rn FROM o) t WHERE rn <= 2 EMIT CHANGES", "", true},
		{"dedup by partition.key", ", 'group.id' = 'g', 'partition.key' = 'category'",
			"SELECT category, value FROM (SELECT category, value, ROW_NUMBER() OVER (PARTITION BY category ORDER BY ts) AS rn FROM o) t WHERE rn = 1 EMIT CHANGES", "", false},
		{"top-N without a key", ", 'group.id' = 'g', 'partition.key' = 'category'",
			"SELECT category, value FROM (SELECT category, value, ROW_NUMBER() OVER (ORDER BY value DESC) AS rn FROM o) t WHERE rn <= 2 EMIT CHANGES", "each would compute a per-key top-N", false},
		{"ORDER BY LIMIT", ", 'group.id' = 'g'",
			"SELECT category, value FROM o ORDER BY value DESC LIMIT 3 EMIT CHANGES", "each would compute ORDER BY", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(Config{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := db.Exec(ctx, `CREATE SOURCE o (category VARCHAR, region VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'kafka', topic = 'orders', brokers = '127.0.0.1:1', format = 'json'`+tc.opts+`)`); err != nil {
				t.Fatal(err)
			}
			err, exchange := scaleOutError(t, db, tc.query)
			wantError(t, err, tc.wantErr)
			if exchange != tc.exchange {
				t.Errorf("Kafka exchange planned: %v, want %v", exchange, tc.exchange)
			}
		})
	}
}

// TestScaleOutOptions: the Kafka source checks its scale-out options when
// it is created, naming the option.
func TestScaleOutOptions(t *testing.T) {
	for _, tc := range []struct{ opts, wantErr string }{
		{"'scale.out' = 'maybe'", "'scale.out' must be true or false"},
		{"'partition.key' = 'nope'", `'partition.key' "nope" is not a column`},
	} {
		db, err := Open(Config{})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Exec(context.Background(), `CREATE SOURCE o (category VARCHAR, value BIGINT)
WITH (connector = 'kafka', topic = 'orders', brokers = '127.0.0.1:1', format = 'json', 'group.id' = 'g', `+tc.opts+`)`)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.opts, err, tc.wantErr)
		}
	}
}

// scaleOutError plans query in db and returns what checkScaleOut says
// and whether the plan repartitions through Kafka.
func scaleOutError(t *testing.T, db *Session, query string) (error, bool) {
	t.Helper()
	q := parseQuery(t, query)
	qp, _, err := db.plan(q, "")
	if err != nil {
		t.Fatal(err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	ex := qp.Stream != nil && len(planner.KafkaExchanges(qp.Stream.Plan)) > 0
	return checkScaleOut(db.cat, qp, q.Position()), ex
}

// wantError fails unless err contains want, or is nil when want is "".
func wantError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

// TestUpstreamForgetsIdleness: after a loss (forget) a source partition
// held again with no batch yet counts idle from when it is held again,
// not from its last batch before the loss (which made it idle at once:
// downstream windows then closed past the rows it was about to read
// again); once it has been held that long without a batch it is idle.
func TestUpstreamForgetsIdleness(t *testing.T) {
	u := &upstream{timeCol: 0, idle: time.Second, unitNanos: 1,
		maxTime: map[string]int64{}, sent: map[string]int64{}, lastData: map[string]time.Time{}, sentIdle: map[string]bool{}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u.lastData["src/0"] = t0 // its last batch
	u.maxTime["src/0"] = 5_000
	u.sent["src/0"], u.sentIdle["src/0"] = 4_000, false
	u.forget() // lost, paused 8 s
	held := map[string]bool{"src/0": true}
	now := t0.Add(8 * time.Second)
	if marks, idle := u.marksDue(now, held, false); len(marks) != 0 || len(idle) != 0 {
		t.Fatalf("held again after the loss, no batch yet: marks %v, idle %v; want none (idle only a second from now)", marks, idle)
	}
	marks, idle := u.marksDue(now.Add(1500*time.Millisecond), held, false)
	if len(idle) != 1 || idle[0] != "src/0" || marks["src/0"] != stream.MinWatermark {
		t.Fatalf("held 1.5 s with no batch: marks %v, idle %v; want src/0 idle at the least watermark", marks, idle)
	}
	for name, m := range map[string]int{"offsets": len(u.offsets), "maxTime": len(u.maxTime), "sent": len(u.sent), "sentIdle": len(u.sentIdle)} {
		if m != 0 {
			t.Errorf("after forget, %s has %d entries", name, m)
		}
	}
}
