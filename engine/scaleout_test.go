package engine

import (
	"context"
	"strings"
	"testing"
)

// TestKafkaScaleOutCheck: streaming aggregates over a Kafka source read by
// a consumer group must group by its 'partition.key'.
func TestScaleOutCheck(t *testing.T) {
	for _, tc := range []struct {
		name, opts, query, wantErr string
	}{
		{"no group", "", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", ""},
		{"group without partition.key", ", 'group.id' = 'g'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", "'partition.key'"},
		{"partition.key in another case", ", 'group.id' = 'g', 'partition.key' = 'CATEGORY'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", ""},
		{"properties.group.id", ", 'properties.group.id' = 'g'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", "'partition.key'"},
		{"grouped by partition.key", ", 'group.id' = 'g', 'partition.key' = 'category'", "SELECT category, SUM(value) FROM o WHERE value > 1 GROUP BY category EMIT CHANGES", ""},
		{"partition.key through a projection", ", 'group.id' = 'g', 'partition.key' = 'category'", "SELECT c, SUM(v) FROM (SELECT category AS c, value * 2 AS v FROM o) t GROUP BY c EMIT CHANGES", ""},
		{"window and partition.key", ", 'group.id' = 'g', 'partition.key' = 'category'",
			"SELECT window_start, category, SUM(value) FROM TUMBLE(o, ts, INTERVAL '5' SECOND) GROUP BY window_start, category EMIT FINAL", ""},
		{"window only", ", 'group.id' = 'g', 'partition.key' = 'category'",
			"SELECT window_start, SUM(value) FROM TUMBLE(o, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT FINAL", "does not group by category"},
		{"other key", ", 'group.id' = 'g', 'partition.key' = 'region'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", "does not group by region"},
		{"computed key", ", 'group.id' = 'g', 'partition.key' = 'category'", "SELECT UPPER(category), SUM(value) FROM o GROUP BY UPPER(category) EMIT CHANGES", "does not group by category"},
		{"single process", ", 'group.id' = 'g', 'scale.out' = 'false'", "SELECT category, SUM(value) FROM o GROUP BY category EMIT CHANGES", ""},
		{"stateless", ", 'group.id' = 'g'", "SELECT category, value FROM o WHERE value > 3 EMIT CHANGES", ""},
		{"batch", ", 'group.id' = 'g'", "SELECT category, SUM(value) FROM o GROUP BY category", ""},
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
			wantError(t, scaleOutError(t, db, tc.query), tc.wantErr)
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

// scaleOutError plans query in db and returns what checkScaleOut says.
func scaleOutError(t *testing.T, db *Session, query string) error {
	t.Helper()
	q := parseQuery(t, query)
	qp, _, err := db.plan(q, "")
	if err != nil {
		t.Fatal(err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return checkScaleOut(db.cat, qp, q.Position())
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
