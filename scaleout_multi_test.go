package sluice_test

import (
	"strings"
	"testing"
)

// TestScaleOutChainedExchangeExplain: a keyed operator above the keyed
// operator that reads a scaled-out query's Kafka exchange (an aggregate
// over a join, a GROUP BY over a GROUP BY, a per-key top-N over an
// aggregate) gets its own Kafka exchange, with its own topics, carrying
// the changes of the operator below (EXPLAIN shows their mode on the
// exchange); one that folds or ranks every row together (no keys) gets
// an exchange to one partition. Shapes no exchange makes exact (a join
// over an aggregate) are refused, naming why. With
// 'scale.out' = 'false' every query plans without an exchange.
func TestScaleOutChainedExchangeExplain(t *testing.T) {
	const sources = `CREATE SOURCE o (id BIGINT, category VARCHAR, region VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (connector = 'kafka', topic = 'orders', brokers = '127.0.0.1:1', format = 'json', 'group.id' = 'g2'%[1]s);
CREATE SOURCE p (order_id BIGINT, amount BIGINT) WITH (connector = 'kafka', topic = 'payments', brokers = '127.0.0.1:1', format = 'json', 'group.id' = 'g2'%[1]s)`
	plans := []struct {
		query string
		want  []string
	}{
		{`SELECT o.category, SUM(p.amount) FROM o JOIN p ON o.id = p.order_id GROUP BY o.category EMIT CHANGES`, []string{
			"Exchange: kafka keys=[category] topic=_sluice-g2-groupaggregate2-repartition changelog=_sluice-g2-groupaggregate2-changelog [append]",
			"Exchange: kafka keys=[id] side=0 topic=_sluice-g2-join0-repartition",
			"Exchange: kafka keys=[order_id] side=1 topic=_sluice-g2-join0-repartition",
		}},
		{`SELECT o.id, SUM(p.amount) FROM o JOIN p ON o.id = p.order_id GROUP BY o.id EMIT CHANGES`, []string{
			"Exchange: kafka keys=[id] topic=_sluice-g2-groupaggregate2-repartition",
		}},
		{`SELECT n, COUNT(*) FROM (SELECT category, COUNT(*) AS n FROM o GROUP BY category) GROUP BY n EMIT CHANGES`, []string{
			"GroupAggregate: keys=[n] aggs=[count(*)] retracting",
			"Exchange: kafka keys=[n] topic=_sluice-g2-groupaggregate1-repartition changelog=_sluice-g2-groupaggregate1-changelog [retract]",
			"Exchange: kafka keys=[category] topic=_sluice-g2-groupaggregate0-repartition changelog=_sluice-g2-groupaggregate0-changelog [append]",
		}},
		{`SELECT * FROM (SELECT region, category, n, ROW_NUMBER() OVER (PARTITION BY region ORDER BY n DESC, category) AS rn FROM (SELECT region, category, COUNT(*) AS n FROM o GROUP BY region, category)) WHERE rn <= 2 EMIT CHANGES`, []string{
			"Exchange: kafka keys=[region] topic=_sluice-g2-ranktopn1-repartition changelog=_sluice-g2-ranktopn1-changelog [upsert key=[region, category]]",
		}},
	}
	plans = append(plans, []struct {
		query string
		want  []string
	}{
		{`SELECT COUNT(*) FROM (SELECT category, COUNT(*) AS n FROM o GROUP BY category) EMIT CHANGES`, []string{
			"Exchange: kafka one partition (every row together) topic=_sluice-g2-groupaggregate1-repartition changelog=_sluice-g2-groupaggregate1-changelog [upsert key=[category]]",
		}},
		{`SELECT category, n FROM (SELECT category, COUNT(*) AS n FROM o GROUP BY category) ORDER BY n DESC LIMIT 3 EMIT CHANGES`, []string{
			"Exchange: kafka one partition (every row together) topic=_sluice-g2-topn1-repartition",
		}},
	}...)
	refused := []struct{ query, want string }{
		{`SELECT a.category, p.amount FROM (SELECT category, COUNT(*) AS n FROM o GROUP BY category) a JOIN p ON a.n = p.order_id EMIT CHANGES`, "no aggregate under the join"},
	}
	for _, scaled := range []bool{true, false} {
		db, _ := kOpen(t, kConfig())
		opt := ""
		if !scaled {
			opt = ", 'scale.out' = 'false'"
		}
		kExec(t, db, strings.ReplaceAll(sources, "%[1]s", opt))
		for _, c := range plans {
			var lines []string
			for _, r := range kRows(t, db, "EXPLAIN "+c.query) {
				lines = append(lines, strings.Join(r, " "))
			}
			got := strings.Join(lines, "\n")
			if !scaled {
				if strings.Contains(got, "Exchange") {
					t.Errorf("%s with 'scale.out' = 'false': an exchange in\n%s", c.query, got)
				}
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s: EXPLAIN lacks %q:\n%s", c.query, w, got)
				}
			}
		}
		for _, c := range refused {
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
			for _, want := range []string{"line 1:", c.want, "'scale.out' = 'false'"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %q lacks %q", c.query, err, want)
				}
			}
		}
		db.Close()
	}
}
