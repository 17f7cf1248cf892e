package planner

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// ExchangeKind says how a PhysExchange moves rows between the instances of
// the operator above it.
type ExchangeKind int

// Exchange kinds.
const (
	// ExchangeLocal hash-partitions rows across the instances of one
	// process (the session's parallelism).
	ExchangeLocal ExchangeKind = iota
	// ExchangeKafka writes rows to an internal repartition topic keyed by
	// Keys and reads them back in the same consumer group, so that every
	// process sharing the source's group holds whole keys: Kafka Streams'
	// repartition topics. The operator above keeps its state per
	// repartition partition in a compacted changelog topic, so a
	// partition that moves to another process takes its state along.
	ExchangeKafka
)

// PhysExchange repartitions its input by Keys for the keyed operator above
// it. Rows pass unchanged (same schema, append-only).
type PhysExchange struct {
	Input PhysicalPlan
	// Keys are the columns of Input rows are partitioned by.
	Keys []int
	Kind ExchangeKind
	// Source is the scanned source whose cluster hosts the internal
	// topics, and Group its consumer group (ExchangeKafka).
	Source, Group string
	// Topic is the repartition topic and Changelog the changelog topic of
	// the operator's state (ExchangeKafka).
	Topic, Changelog string
	// Join is set for the exchanges under a join, and Side is the input
	// (0 left, 1 right) whose rows this one writes: both inputs of a
	// join share one topic, so that a key's rows of both sides are in
	// one partition.
	Join bool
	Side int
	// Out, when set, is the schema the exchange delivers when its Input
	// is the scan of its topic's wire rows (the reading part of a split
	// join exchange); else it is Input's.
	Out *Schema
	// EventTime is set when the operator above closes windows by the
	// watermark (ExchangeKafka): a repartition partition mixes the rows
	// of every source partition out of event-time order, so the
	// watermark crosses the hop beside them. Each upstream process
	// writes, per source partition it reads, max(TimeCol) − Delay into
	// every repartition partition; a partition's watermark downstream
	// is the least over all source partitions.
	EventTime bool
	TimeCol   int
	Delay     time.Duration
	// Within, on a local exchange, is the Kafka repartition topic whose
	// partitioning already holds whole keys of the operator above (its
	// keys include every key of that topic, traced through the keyed
	// operator under it): the operator runs inside that operator's
	// per-partition instance, its state saved with that operator's in
	// the same changelog record. No topic of its own.
	Within string
	// Single is set when the operator above folds or ranks every row
	// together (an aggregate without keys, ORDER BY … LIMIT): Keys is
	// one constant column, so every row goes to one partition of the
	// topic and one process at a time holds the operator.
	Single bool
}

// Schema implements PhysicalPlan.
func (p *PhysExchange) Schema() *Schema {
	if p.Out != nil {
		return p.Out
	}
	return p.Input.Schema()
}

// Children implements PhysicalPlan.
func (p *PhysExchange) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysExchange) String() string {
	names := make([]string, len(p.Keys))
	s := p.Input.Schema()
	for i, k := range p.Keys {
		names[i] = s.Fields[k].Name
	}
	if p.Kind == ExchangeKafka && p.Single {
		return fmt.Sprintf("Exchange: kafka one partition (every row together) topic=%s changelog=%s", p.Topic, p.Changelog)
	}
	if p.Kind == ExchangeKafka {
		side := ""
		if p.Join {
			side = fmt.Sprintf(" side=%d", p.Side)
		}
		if p.EventTime {
			side += " watermark=" + s.Fields[p.TimeCol].Name
		}
		return fmt.Sprintf("Exchange: kafka keys=[%s]%s topic=%s changelog=%s", strings.Join(names, ", "), side, p.Topic, p.Changelog)
	}
	if p.Within != "" {
		return fmt.Sprintf("Exchange: local keys=[%s] (partitioned as %s already: runs in the per-partition instance below, state in %s)", strings.Join(names, ", "), p.Within, p.Changelog)
	}
	return fmt.Sprintf("Exchange: local keys=[%s]", strings.Join(names, ", "))
}

// InternalTopicName names an internal topic of a scaled-out query: the
// consumer group (the query's identity, shared by every process running
// it), the operator, and the role ("repartition" or "changelog"), as
// Kafka Streams names them. Characters Kafka refuses in a topic name
// become '_'.
func InternalTopicName(group, operator, role string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
				return r
			}
			return '_'
		}, s)
	}
	return "_sluice-" + clean(group) + "-" + clean(operator) + "-" + role
}

// kafkaExchange puts a Kafka exchange under the keyed operator op (an
// aggregate with keys over in) when the query is scaled out: its single
// source is read by a consumer group that several processes may share,
// and the keys do not include the column the source is partitioned by.
// Key expressions that are not plain columns are computed below the
// exchange (a projection appends them), and keys is rewritten to refer to
// them. It returns the new input (in itself when no exchange is needed).
func (sp *streamPlanner) kafkaExchange(in PhysicalPlan, keys []Expr, operator string) (PhysicalPlan, []Expr) {
	if len(keys) == 0 || sp.si.Modes[in].Updating() || len(sp.si.Scans) != 1 {
		return in, keys
	}
	scan := scanUnder(in)
	if scan == nil {
		return in, keys
	}
	def, ok := sp.cat.LookupSource(scan.Source)
	if !ok || def.ScaleOut == nil {
		return in, keys
	}
	if pk := def.ScaleOut.PartitionKey; pk != "" {
		for _, k := range keys {
			if strings.EqualFold(streamSourceColumn(in, k), pk) {
				return in, keys // one key lives in one source partition
			}
		}
	}
	return sp.exchangeOn(in, keys, operator, def.Name, def.ScaleOut.Group)
}

// exchangeOn puts a Kafka exchange of the source's group over in, keyed
// by keys (computed below it by a projection when they are not plain
// columns: keys is returned rewritten to the exchange's columns), with
// topics named after the operator. The exchange and the projection
// carry in's changelog mode: an updating input crosses the hop with its
// op column, a row per change.
func (sp *streamPlanner) exchangeOn(in PhysicalPlan, keys []Expr, operator, source, group string) (PhysicalPlan, []Expr) {
	mode := sp.si.Modes[in]
	cols := make([]int, len(keys))
	var extra []Expr
	width := in.Schema().Len()
	for i, k := range keys {
		if c, ok := k.(*ColumnRef); ok {
			cols[i] = c.Index
			continue
		}
		cols[i] = width + len(extra)
		extra = append(extra, k)
	}
	if len(extra) > 0 {
		s := in.Schema()
		exprs := make([]Expr, 0, width+len(extra))
		names := make([]string, 0, width+len(extra))
		fields := append([]Field(nil), s.Fields...)
		for i, f := range s.Fields {
			exprs = append(exprs, &ColumnRef{Index: i, Name: f.Name, Typ: f.Type})
			names = append(names, f.Name)
		}
		for i, e := range extra {
			name := fmt.Sprintf("_key%d", i)
			exprs = append(exprs, e)
			names = append(names, name)
			fields = append(fields, Field{Name: name, Type: e.Type(), Nullable: true})
		}
		out := newSchema(fields)
		out.EventTime, out.WindowStart, out.WindowEnd = s.EventTime, s.WindowStart, s.WindowEnd
		in = sp.set(&PhysProject{Input: in, Exprs: exprs, Names: names, Out: out}, mode)
	}
	ordinal := 0
	for n := range sp.si.Modes {
		if _, ok := n.(*PhysExchange); ok {
			ordinal++
		}
	}
	op := fmt.Sprintf("%s%d", strings.ToLower(operator), ordinal)
	ex := &PhysExchange{Input: in, Keys: cols, Kind: ExchangeKafka, Source: source, Group: group,
		Topic: InternalTopicName(group, op, "repartition"), Changelog: InternalTopicName(group, op, "changelog")}
	sp.set(ex, mode)
	s := ex.Schema()
	out := make([]Expr, len(cols))
	for i, c := range cols {
		out[i] = &ColumnRef{Index: c, Name: s.Fields[c].Name, Typ: s.Fields[c].Type}
	}
	return ex, out
}

// streamSourceColumn follows a plain column reference over the
// append-only streaming part p down to its scan and returns the source
// column's name; "" for computed values and window bounds.
func streamSourceColumn(p PhysicalPlan, e Expr) string {
	ref, ok := e.(*ColumnRef)
	if !ok {
		return ""
	}
	switch x := p.(type) {
	case *PhysScan:
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
	case *PhysFilter:
		return streamSourceColumn(x.Input, ref)
	case *PhysProject:
		if ref.Index < 0 || ref.Index >= len(x.Exprs) {
			return ""
		}
		return streamSourceColumn(x.Input, x.Exprs[ref.Index])
	case *PhysWindow:
		if ref.Index >= x.Input.Schema().Len() {
			return "" // window_start / window_end
		}
		return streamSourceColumn(x.Input, ref)
	}
	return ""
}

// KafkaExchanges lists the Kafka exchanges of a streaming plan, bottom up.
func KafkaExchanges(p PhysicalPlan) []*PhysExchange {
	var out []*PhysExchange
	for _, c := range p.Children() {
		out = append(out, KafkaExchanges(c)...)
	}
	if x, ok := p.(*PhysExchange); ok && x.Kind == ExchangeKafka {
		out = append(out, x)
	}
	return out
}

// WithNode returns si with node old of its plan replaced by repl: the
// nodes above old are shallow copies (the plan si came from is left
// as it was) and keep their changelog modes; repl's mode is the one
// given. The engine uses it to split a Kafka exchange into the part
// that writes the repartition topic and the part that reads it.
func (si *StreamInfo) WithNode(old, repl PhysicalPlan, mode ChangelogMode) *StreamInfo {
	out := *si
	out.Modes = make(map[PhysicalPlan]ChangelogMode, len(si.Modes)+1)
	for k, v := range si.Modes {
		out.Modes[k] = v
	}
	out.Modes[repl] = mode
	out.Plan = replaceNode(si.Plan, old, repl, out.Modes)
	out.Mode = out.Modes[out.Plan]
	return &out
}

var physicalPlanType = reflect.TypeOf((*PhysicalPlan)(nil)).Elem()

// replaceNode copies the path from root down to old, with old replaced by
// repl; copies get the mode of the node they copy.
func replaceNode(root, old, repl PhysicalPlan, modes map[PhysicalPlan]ChangelogMode) PhysicalPlan {
	if root == old {
		return repl
	}
	v := reflect.ValueOf(root)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return root
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	changed := false
	st := cp.Elem()
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if !f.CanSet() {
			continue
		}
		switch {
		case f.Type() == physicalPlanType && !f.IsNil():
			c := f.Interface().(PhysicalPlan)
			if nc := replaceNode(c, old, repl, modes); nc != c {
				f.Set(reflect.ValueOf(&nc).Elem())
				changed = true
			}
		case f.Kind() == reflect.Slice && f.Type().Elem() == physicalPlanType:
			ns := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
			any := false
			for j := 0; j < f.Len(); j++ {
				c, _ := f.Index(j).Interface().(PhysicalPlan)
				nc := c
				if c != nil {
					nc = replaceNode(c, old, repl, modes)
				}
				if nc != c {
					any = true
				}
				if nc != nil {
					ns.Index(j).Set(reflect.ValueOf(&nc).Elem())
				}
			}
			if any {
				f.Set(ns)
				changed = true
			}
		}
	}
	if !changed {
		return root
	}
	n := cp.Interface().(PhysicalPlan)
	if m, ok := modes[root]; ok {
		modes[n] = m
	}
	return n
}

// joinExchanges puts Kafka exchanges under every streaming join of p
// whose inputs are read from scaled-out sources: both inputs are written
// to one repartition topic keyed by the join key (so partition k of the
// topic holds both sides' rows of the keys hashing to k, and the process
// the group gives it joins them whole), each row tagged with its side
// (PhysExchange.Side). Joins the exchange cannot carry over such inputs
// are refused: each process would join only its share of each side.
func (sp *streamPlanner) joinExchanges(p PhysicalPlan) error {
	for _, c := range p.Children() {
		if err := sp.joinExchanges(c); err != nil {
			return err
		}
	}
	j, ok := p.(*PhysStreamJoin)
	if !ok || j.Strategy == JoinLookup {
		return nil
	}
	var defs [2]*SourceDef
	for i, in := range []PhysicalPlan{j.Left, j.Right} {
		if s := scanUnder(in); s != nil {
			if d, ok := sp.cat.LookupSource(s.Source); ok && d.ScaleOut != nil {
				defs[i] = d
			}
		}
	}
	if defs[0] == nil && defs[1] == nil {
		return nil
	}
	refuse := func(why string) error {
		name := defs[0]
		if name == nil {
			name = defs[1]
		}
		return sp.fail("a join over source %s, which several processes split (consumer group %q), needs a Kafka exchange, which %s: set 'scale.out' = 'false' when one process reads the source", name.Name, name.ScaleOut.Group, why)
	}
	timed := j.Strategy == JoinInterval || j.Strategy == JoinWindow
	switch {
	case j.Strategy != JoinRegular && !timed:
		return refuse(fmt.Sprintf("cannot carry a %s join", j.Strategy))
	case defs[0] == nil || defs[1] == nil:
		return refuse("needs both inputs read from scaled-out sources")
	case defs[0].ScaleOut.Group != defs[1].ScaleOut.Group:
		return refuse("needs both sources read by one consumer group")
	case sp.si.Modes[j.Left].Updating() || sp.si.Modes[j.Right].Updating() || statefulBelow(sp.si, j.Left) || statefulBelow(sp.si, j.Right):
		return refuse("needs both inputs to be plain streams of their sources (no aggregate under the join)")
	}
	lk, rk := make([]int, len(j.LeftKeys)), make([]int, len(j.RightKeys))
	for i := range j.LeftKeys {
		l, ok1 := j.LeftKeys[i].(*ColumnRef)
		r, ok2 := j.RightKeys[i].(*ColumnRef)
		if !ok1 || !ok2 {
			return refuse("needs the join keys to be plain columns")
		}
		if !arrow.TypeEqual(l.Type(), r.Type()) {
			return refuse(fmt.Sprintf("needs join keys of one type (%s = %s: %s and %s)", l, r, l.Type(), r.Type()))
		}
		lk[i], rk[i] = l.Index, r.Index
	}
	ordinal := 0
	for n := range sp.si.Modes {
		if _, ok := n.(*PhysExchange); ok {
			ordinal++
		}
	}
	op := fmt.Sprintf("join%d", ordinal)
	group := defs[0].ScaleOut.Group
	topic, changelog := InternalTopicName(group, op, "repartition"), InternalTopicName(group, op, "changelog")
	left := &PhysExchange{Input: j.Left, Keys: lk, Kind: ExchangeKafka, Source: defs[0].Name, Group: group, Topic: topic, Changelog: changelog, Join: true, Side: 0}
	right := &PhysExchange{Input: j.Right, Keys: rk, Kind: ExchangeKafka, Source: defs[1].Name, Group: group, Topic: topic, Changelog: changelog, Join: true, Side: 1}
	if timed {
		// Each side's watermark crosses the hop beside its rows: the
		// join takes it from the marks, the least over that side's
		// source partitions (each side's own delay applied upstream).
		left.EventTime, left.TimeCol, left.Delay = true, j.LeftTime, j.LeftDelay
		right.EventTime, right.TimeCol, right.Delay = true, j.RightTime, j.RightDelay
		j.LeftByMarks, j.RightByMarks = true, true
		j.Why += "; each side's watermark crosses the Kafka exchange beside its rows (the least over that side's source partitions)"
	}
	j.Left = sp.set(left, ChangelogMode{})
	j.Right = sp.set(right, ChangelogMode{})
	return nil
}

// JoinWire is how the two exchanges under a join write their rows to
// their one topic: a row of either side is one record of the wire schema
// [_side, _k0 … (the join key), the left columns as _l_<name>, the right
// columns as _r_<name>], with _side 0 or 1, the key columns filled by
// both sides (so a key is the same record key, and lands in the same
// partition, from either side) and the other side's columns NULL. cols[s]
// are the wire columns of side s's columns, in order; keys the key
// columns' names.
func JoinWire(left, right *PhysExchange) (wire *arrow.Schema, keys []string, cols [2][]int) {
	fields := []arrow.Field{{Name: "_side", Type: arrow.PrimitiveTypes.Int64}}
	ls := left.Schema()
	for i, k := range left.Keys {
		name := fmt.Sprintf("_k%d", i)
		fields = append(fields, arrow.Field{Name: name, Type: ls.Fields[k].Type, Nullable: true})
		keys = append(keys, name)
	}
	for s, ex := range []*PhysExchange{left, right} {
		prefix := [2]string{"_l_", "_r_"}[s]
		for _, f := range ex.Schema().Fields {
			cols[s] = append(cols[s], len(fields))
			fields = append(fields, arrow.Field{Name: prefix + f.Name, Type: f.Type, Nullable: true})
		}
	}
	return arrow.NewSchema(fields, nil), keys, cols
}

// SchemaOf is the plan schema of an Arrow schema (no streaming
// metadata): the rows of an internal topic.
func SchemaOf(s *arrow.Schema) *Schema {
	fields := make([]Field, s.NumFields())
	for i, f := range s.Fields() {
		fields[i] = Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable}
	}
	return newSchema(fields)
}

// InternalTopicOf reports whether topic is an internal topic of a query
// run by group (named by InternalTopicName), and its operator and role.
func InternalTopicOf(group, topic string) (operator, role string, ok bool) {
	prefix := InternalTopicName(group, "", "")
	prefix = prefix[:len(prefix)-1] // "_sluice-<group>-"
	rest, found := strings.CutPrefix(topic, prefix)
	if !found {
		return "", "", false
	}
	operator, role, found = strings.Cut(rest, "-")
	if !found || operator == "" || strings.Contains(role, "-") || (role != "repartition" && role != "changelog") {
		return "", "", false
	}
	return operator, role, true
}

// chainExchanges gives every keyed operator above the keyed operator
// that reads a Kafka exchange (an aggregate over a scaled-out join, a
// GROUP BY over a GROUP BY, a per-key top-N over an aggregate) its own
// Kafka exchange, keyed by its own keys: its input, the changelog of the
// operator below (op column and all), is written to its own repartition
// topic, so that every process holds whole keys of it, with its state
// per partition in its own changelog topic (an operator without keys, one
// that folds or ranks every row together, gets a one-partition exchange).
// Each exchange is a stage of its own: the engine runs the stage below
// it as the writer of its topic, in transactions holding the records,
// the stage's state and the offsets it read. Shapes no exchange can
// make exact are refused here, naming why.
func (sp *streamPlanner) chainExchanges(p PhysicalPlan) error {
	for _, c := range p.Children() {
		if err := sp.chainExchanges(c); err != nil {
			return err
		}
	}
	if _, stateful := sp.si.bounds[p]; !stateful {
		return nil
	}
	for _, c := range p.Children() {
		if x, ok := c.(*PhysExchange); ok && x.Kind == ExchangeKafka {
			return nil // p is the keyed operator of its exchange
		}
	}
	below := keyedReaderUnder(p)
	if below == nil {
		return nil
	}
	lower := KafkaExchanges(below)[0]
	refuse := func(why string) error {
		return sp.fail("%s runs above %s, which reads the Kafka exchange %s of a scaled-out query: %s. Run it as its own query over the first one's output topic, or set 'scale.out' = 'false' on source %s when one process reads it",
			nodeKind(p), nodeKind(below), lower.Topic, why, lower.Source)
	}
	// single sends every row to one partition of its topic (a constant
	// key), for an operator that folds or ranks all rows together.
	single := func(in PhysicalPlan, operator string) PhysicalPlan {
		ex, _ := sp.exchangeOn(in, []Expr{&Literal{Typ: arrow.PrimitiveTypes.Int64, Value: int64(0)}}, operator, lower.Source, lower.Group)
		ex.(*PhysExchange).Single = true
		return ex
	}
	if in, keys, ok := keyedInput(p); ok && coversPartitioning(in, below, keys) {
		// The rows are partitioned as the operator needs already: it
		// runs in the instance of the one below, no hop.
		cols := make([]int, len(keys))
		for i, k := range keys {
			cols[i] = k.(*ColumnRef).Index
		}
		ex := sp.set(&PhysExchange{Input: in, Keys: cols, Kind: ExchangeLocal, Source: lower.Source, Group: lower.Group,
			Within: lower.Topic, Changelog: lower.Changelog}, sp.si.Modes[in])
		switch x := p.(type) {
		case *PhysGroupAggregate:
			x.Input = ex
		case *PhysRankTopN:
			x.Input = ex
		}
		return nil
	}
	switch x := p.(type) {
	case *PhysGroupAggregate:
		if len(x.Keys) == 0 {
			x.Input = single(x.Input, "GroupAggregate")
			return nil
		}
		x.Input, x.Keys = sp.exchangeOn(x.Input, x.Keys, "GroupAggregate", lower.Source, lower.Group)
	case *PhysTopN:
		x.Input = single(x.Input, "TopN")
	case *PhysRankTopN:
		if len(x.Partition) == 0 {
			x.Input = single(x.Input, "RankTopN")
			return nil
		}
		x.Input, x.Partition = sp.exchangeOn(x.Input, x.Partition, "RankTopN", lower.Source, lower.Group)
	case *PhysWindowAggregate:
		return refuse("a windowed aggregate over another keyed operator's output needs that operator's watermark across a second exchange, which is not carried yet")
	default:
		return refuse("it cannot run per repartition partition")
	}
	return nil
}

// keyedInput is the input and the keys of a keyed operator that can run
// inside the per-partition instance of the one below it (a GROUP BY, a
// per-key top-N), keyed by plain columns.
func keyedInput(p PhysicalPlan) (PhysicalPlan, []Expr, bool) {
	var in PhysicalPlan
	var keys []Expr
	switch x := p.(type) {
	case *PhysGroupAggregate:
		in, keys = x.Input, x.Keys
	case *PhysRankTopN:
		in, keys = x.Input, x.Partition
	default:
		return nil, nil, false
	}
	if len(keys) == 0 {
		return nil, nil, false
	}
	for _, k := range keys {
		if _, ok := k.(*ColumnRef); !ok {
			return nil, nil, false
		}
	}
	return in, keys, true
}

// coversPartitioning reports whether keys (over in, which reaches the
// GROUP BY below through projections and filters only) include every
// key of the Kafka exchange that GROUP BY reads: then rows of one key
// of the upper operator all come from one partition of that topic.
func coversPartitioning(in, below PhysicalPlan, keys []Expr) bool {
	g, ok := below.(*PhysGroupAggregate)
	if !ok {
		return false
	}
	x, ok := g.Input.(*PhysExchange)
	if !ok || x.Kind != ExchangeKafka || x.Single {
		return false
	}
	have := map[int]bool{} // output columns of g among keys
	for _, k := range keys {
		if c, ok := traceColumn(in, below, k); ok {
			have[c] = true
		}
	}
	for _, xk := range x.Keys {
		found := false
		for i, gk := range g.Keys {
			if r, ok := gk.(*ColumnRef); ok && r.Index == xk && have[i+1] { // output: op, keys, aggregates
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// traceColumn follows the plain column e of p down projections and
// filters to node below, returning its column there.
func traceColumn(p, below PhysicalPlan, e Expr) (int, bool) {
	ref, ok := e.(*ColumnRef)
	if !ok {
		return 0, false
	}
	if p == below {
		return ref.Index, true
	}
	switch x := p.(type) {
	case *PhysFilter:
		return traceColumn(x.Input, below, ref)
	case *PhysProject:
		if ref.Index >= 0 && ref.Index < len(x.Exprs) {
			return traceColumn(x.Input, below, x.Exprs[ref.Index])
		}
	}
	return 0, false
}

// keyedReaderUnder is the operator under p (p excluded) that reads a
// Kafka exchange, nil when none does.
func keyedReaderUnder(p PhysicalPlan) PhysicalPlan {
	for _, c := range p.Children() {
		if x, ok := c.(*PhysExchange); ok && (x.Kind == ExchangeKafka || x.Within != "") {
			return p // one running in the instance of the one below counts as it
		}
	}
	for _, c := range p.Children() {
		if _, ok := c.(*PhysExchange); ok {
			continue
		}
		if r := keyedReaderUnder(c); r != nil {
			return r
		}
	}
	return nil
}
