package engine

import (
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// checkScaleOut rejects a streaming aggregate over a source whose
// partitions several sluice processes may divide among themselves
// (exec.GroupSource: a Kafka consumer group) unless the aggregate groups by
// the column the source is partitioned by (exec.PartitionKeyed). With a
// 'group.id', N processes running the same query split the partitions
// between them; each process then sees only its partitions' records, so a
// group key whose records are spread over several partitions would be
// summed in pieces by different processes, each emitting a wrong total.
// Grouping by the declared 'partition.key' (records keyed by that column,
// so one key lives in one partition) keeps every group whole in one
// process.
//
// A single process that uses the group only to store offsets says so with
// 'scale.out' = 'false' (ScaledOut is then false). Batch queries read every
// partition and are never rejected.
func checkScaleOut(cat *Catalog, qp *planner.QueryPlan, pos sql.Pos) error {
	if qp == nil || qp.Emit == nil {
		return nil
	}
	if qp.Stream != nil {
		if err := checkScaleOutKeyed(cat, qp.Stream.Plan, pos); err != nil {
			return err
		}
	}
	if qp.Stream != nil && len(planner.KafkaExchanges(qp.Stream.Plan)) > 0 {
		return nil // the keyed operator reads a repartition topic
	}
	agg := findAggregate(qp.Physical)
	if agg == nil {
		return nil
	}
	scan := findScan(agg.Input)
	if scan == nil {
		return nil
	}
	e, ok := cat.Source(scan.Source)
	if !ok {
		return nil
	}
	gs, ok := e.Source.(exec.GroupSource)
	if !ok || gs.Group() == "" || !gs.ScaledOut() {
		return nil
	}
	var pkey string
	if pk, ok := e.Source.(exec.PartitionKeyed); ok {
		pkey = pk.PartitionKey()
	}
	for _, k := range agg.Keys {
		if name := sourceColumn(agg.Input, k); name != "" && pkey != "" && strings.EqualFold(name, pkey) {
			return nil
		}
	}
	if pkey == "" {
		return sql.Errorf(sql.PlanError, pos,
			"source %s is read by consumer group %q, so several sluice processes may split its partitions and each would aggregate only part of a group: declare the column the topic is keyed by with 'partition.key' = 'col' and GROUP BY it, or set 'scale.out' = 'false' when one process reads the whole topic",
			e.Def.Name, gs.Group())
	}
	return sql.Errorf(sql.PlanError, pos,
		"source %s is read by consumer group %q and partitioned by %s, but the aggregate does not group by %s: a group would be split across processes; add %s to GROUP BY, or set 'scale.out' = 'false' when one process reads the whole topic",
		e.Def.Name, gs.Group(), pkey, pkey, pkey)
}

// scaleOutDef is what the planner needs of a source whose partitions
// several processes may split and whose cluster can carry exchanges
// (exec.ExchangeHost); nil for any other source, over which the planner
// puts no Kafka exchange (checkScaleOut refuses what would need one).
func scaleOutDef(src exec.Source) *planner.ScaleOutDef {
	h, ok := src.(exec.ExchangeHost)
	if !ok || h.Group() == "" || !h.ScaledOut() {
		return nil
	}
	d := &planner.ScaleOutDef{Group: h.Group()}
	if pk, ok := src.(exec.PartitionKeyed); ok {
		d.PartitionKey = pk.PartitionKey()
	}
	return d
}

func findAggregate(p planner.PhysicalPlan) *planner.PhysHashAggregate {
	if a, ok := p.(*planner.PhysHashAggregate); ok {
		return a
	}
	for _, c := range p.Children() {
		if a := findAggregate(c); a != nil {
			return a
		}
	}
	return nil
}

func findScan(p planner.PhysicalPlan) *planner.PhysScan {
	if s, ok := p.(*planner.PhysScan); ok {
		return s
	}
	for _, c := range p.Children() {
		if s := findScan(c); s != nil {
			return s
		}
	}
	return nil
}

// sourceColumn follows a plain column reference over p down to the scan
// and returns the source column's name; "" for computed values and window
// bounds.
func sourceColumn(p planner.PhysicalPlan, e planner.Expr) string {
	ref, ok := e.(*planner.ColumnRef)
	if !ok {
		return ""
	}
	switch x := p.(type) {
	case *planner.PhysScan:
		idx := ref.Index
		if x.Columns != nil {
			if idx < 0 || idx >= len(x.Columns) {
				return ""
			}
			idx = x.Columns[idx]
		}
		if x.SourceSchema == nil || idx < 0 || idx >= x.SourceSchema.NumFields() {
			return ""
		}
		return x.SourceSchema.Field(idx).Name
	case *planner.PhysFilter:
		return sourceColumn(x.Input, ref)
	case *planner.PhysProject:
		if ref.Index < 0 || ref.Index >= len(x.Exprs) {
			return ""
		}
		return sourceColumn(x.Input, x.Exprs[ref.Index])
	case *planner.PhysWindow:
		if ref.Index >= len(x.Input.Schema().Fields) {
			return "" // window_start / window_end
		}
		return sourceColumn(x.Input, ref)
	}
	return ""
}

// checkScaleOutKeyed refuses a top-N, per-key top-N or OVER aggregate of
// the streaming plan p that reads a scaled-out source without a Kafka
// exchange under it, unless it is keyed by the source's 'partition.key':
// each process would rank or aggregate its share of the partitions only.
func checkScaleOutKeyed(cat *Catalog, p planner.PhysicalPlan, pos sql.Pos) error {
	for _, c := range p.Children() {
		if err := checkScaleOutKeyed(cat, c, pos); err != nil {
			return err
		}
	}
	var in planner.PhysicalPlan
	var keys []planner.Expr
	what := ""
	switch x := p.(type) {
	case *planner.PhysTopN:
		in, what = x.Input, "ORDER BY … LIMIT"
	case *planner.PhysRankTopN:
		in, keys, what = x.Input, x.Partition, "a per-key top-N (ROW_NUMBER() OVER …)"
	case *planner.PhysOverAggregate:
		in, what = x.Input, "an OVER aggregate"
		for _, c := range x.Partition {
			f := x.Input.Schema().Fields[c]
			keys = append(keys, &planner.ColumnRef{Index: c, Name: f.Name, Typ: f.Type})
		}
	default:
		return nil
	}
	if ex, ok := in.(*planner.PhysExchange); ok && (ex.Kind == planner.ExchangeKafka || ex.Within != "") {
		return nil // per repartition partition, its own or the one below's
	}
	scan := findScan(in)
	if scan == nil {
		return nil
	}
	e, ok := cat.Source(scan.Source)
	if !ok {
		return nil
	}
	gs, ok := e.Source.(exec.GroupSource)
	if !ok || gs.Group() == "" || !gs.ScaledOut() {
		return nil
	}
	var pkey string
	if pk, ok := e.Source.(exec.PartitionKeyed); ok {
		pkey = pk.PartitionKey()
	}
	for _, k := range keys {
		if name := sourceColumn(in, k); pkey != "" && strings.EqualFold(name, pkey) {
			return nil
		}
	}
	return sql.Errorf(sql.PlanError, pos,
		"source %s is read by consumer group %q, so several sluice processes may split its partitions and each would compute %s over its share only: partition it by the column the topic is keyed by ('partition.key'), or set 'scale.out' = 'false' when one process reads the whole topic",
		e.Def.Name, gs.Group(), what)
}
