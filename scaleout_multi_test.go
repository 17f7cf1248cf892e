package sluice_test

import (
	"strings"
	"testing"
)

// TestScaleOutSecondKeyedOperatorRefused: a stateful operator above the
// keyed operator that reads a scaled-out query's Kafka exchange (an
// aggregate over a join, a GROUP BY over a GROUP BY, even one keyed by
// the join key) is refused when planned, naming both operators and the
// exchange: its state would be each process's partitions only, kept
// when they move, so its results would be partial. It ran before,
// emitting per-process partial sums. With 'scale.out' = 'false' the same
// queries plan without an exchange.
func TestScaleOutSecondKeyedOperatorRefused(t *testing.T) {
	const sources = `CREATE SOURCE o (id BIGINT, category VARCHAR) WITH (connector = 'kafka', topic = 'orders', brokers = '127.0.0.1:1', format = 'json', 'group.id' = 'g2'%[1]s);
CREATE SOURCE p (order_id BIGINT, amount BIGINT) WITH (connector = 'kafka', topic = 'payments', brokers = '127.0.0.1:1', format = 'json', 'group.id' = 'g2'%[1]s)`
	cases := []struct{ query, above, below, topic string }{
		{`SELECT o.category, SUM(p.amount) FROM o JOIN p ON o.id = p.order_id GROUP BY o.category EMIT CHANGES`, "GroupAggregate", "RegularJoin", "_sluice-g2-join0-repartition"},
		{`SELECT o.id, SUM(p.amount) FROM o JOIN p ON o.id = p.order_id GROUP BY o.id EMIT CHANGES`, "GroupAggregate", "RegularJoin", "_sluice-g2-join0-repartition"},
		{`SELECT n, COUNT(*) FROM (SELECT category, COUNT(*) AS n FROM o GROUP BY category) GROUP BY n EMIT CHANGES`, "GroupAggregate", "GroupAggregate", "_sluice-g2-groupaggregate0-repartition"},
	}
	for _, scaled := range []bool{true, false} {
		db, _ := kOpen(t, kConfig())
		opt := ""
		if !scaled {
			opt = ", 'scale.out' = 'false'"
		}
		kExec(t, db, strings.ReplaceAll(sources, "%[1]s", opt))
		for _, c := range cases {
			rows, err := db.Query(t.Context(), "EXPLAIN "+c.query)
			if !scaled {
				if err != nil {
					t.Errorf("%s with 'scale.out' = 'false': %v", c.query, err)
				} else {
					rows.Close()
				}
				continue
			}
			if err == nil {
				rows.Close()
				t.Errorf("%s: planned, want it refused", c.query)
				continue
			}
			msg := err.Error()
			for _, want := range []string{"line 1:", c.above + " runs above " + c.below, c.topic, "'scale.out' = 'false'"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s: error %q lacks %q", c.query, msg, want)
				}
			}
		}
		db.Close()
	}
}
