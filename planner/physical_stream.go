package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// The physical nodes below exist only in streaming plans (StreamInfo.Plan).
// Streaming plans also use the stateless batch nodes (PhysScan, PhysFilter,
// PhysProject, PhysWindow) and PhysTopN, which over a stream is the
// incremental top-N. A node whose changelog mode is not append has the op
// column (OpColumn, Int8: exec.Op values) first in its schema, and its
// expressions count it: column 0 is op.

// OpColumn is the name of the changelog op column.
const OpColumn = "op"

// ChangelogKind says what a streaming node emits.
type ChangelogKind int

// Changelog kinds.
const (
	// Append: every row is final once emitted; no op column.
	Append ChangelogKind = iota
	// Retract: a changelog (+I, -U/+U, -D in the op column) whose
	// retractions carry the whole old row; no key is known.
	Retract
	// Upsert: a changelog in which each value of Key has at most one live
	// row; retractions carry the whole old row too, so a consumer may
	// read it as a retract stream or apply it by key.
	Upsert
)

// ChangelogMode is a node's changelog kind and, for Upsert, its key.
type ChangelogMode struct {
	Kind ChangelogKind
	// Key are the output columns (op at 0 counted) of an Upsert stream;
	// empty for a single-row result (a global aggregate).
	Key []int
}

// Updating reports whether the mode may update or retract rows.
func (m ChangelogMode) Updating() bool { return m.Kind != Append }

// Format renders the mode for EXPLAIN with key names from s.
func (m ChangelogMode) Format(s *Schema) string {
	switch m.Kind {
	case Append:
		return "append"
	case Retract:
		return "retract"
	}
	names := make([]string, len(m.Key))
	for i, k := range m.Key {
		names[i] = s.Fields[k].Name
	}
	return "upsert key=[" + strings.Join(names, ", ") + "]"
}

// StateBound is what bounds a stateful node's state, for EXPLAIN and the
// planner's warnings.
type StateBound struct {
	// Bounded: the state stays bounded (freed by the watermark, a single
	// group, a source that ends, a fixed number of rows).
	Bounded bool
	// Text says why, e.g. `bounded by watermark on ts` or `unbounded
	// (warning)`.
	Text string
}

// WindowEmit says when a PhysWindowAggregate emits.
type WindowEmit int

// Window emit modes.
const (
	// EmitOnClose: each window's rows once, when the watermark passes
	// its end (EMIT FINAL; EMIT EVERY into an append-only sink).
	EmitOnClose WindowEmit = iota
	// EmitUpdates: a changelog of the (window, key) groups each batch
	// changed; a window the watermark closes is freed silently.
	EmitUpdates
)

// PhysGroupAggregate is the updating GROUP BY of a streaming query: it
// keeps one accumulator row per group and turns each input batch into the
// changelog of the groups it changed. Its input may itself be a changelog
// (Retracting): -U and -D rows subtract. Output: op, keys, aggregates.
type PhysGroupAggregate struct {
	Input PhysicalPlan
	// Keys and Aggs are over Input's columns (op included when
	// Retracting).
	Keys []Expr
	Aggs []AggCall
	// Retracting: the input is a changelog.
	Retracting bool
	// Partitioned: the aggregate is keyed, so it runs as the session's
	// parallelism of instances behind a hash exchange on Keys, each with
	// its own groups and checkpoint part (the result is the same at any
	// parallelism). A global aggregate (no keys) runs as one.
	Partitioned bool
	// PreAggregate: where the scan decodes its batches in parallel (a
	// file at parallelism above 1), each batch is first folded into one
	// partial row per group on the goroutine that decoded it, and the
	// instances merge those (stream.LocalAggregate): the same changelog
	// for a fraction of the rows crossing to the instances. Set for an
	// append-only input that is a filter/projection of one bounded scan,
	// when every aggregate merges to exactly its one-phase value
	// (preAggregable).
	PreAggregate bool
	// DeferEmit: under EMIT EVERY the aggregate holds the changes of the
	// batches it folds until the next trigger and emits them then,
	// compacted (one change per group touched since the last), since the
	// trigger emits only what changed by then. Set when only stateless
	// nodes lie between the aggregate and the output: a stateful node
	// above it (a join, a window, a top-N) would see its input late
	// against the watermarks. Not over a Kafka exchange, whose
	// per-partition instances save their state between batches.
	DeferEmit bool
	State     StateBound
	Out       *Schema
}

// PhysWindowAggregate is the windowed aggregation of a streaming query:
// it assigns each row of Input (append-only) to its windows itself, tracks
// the watermark row by row, drops late rows, and frees each window once
// the watermark passes its end. Output: [op,] window_start, window_end,
// keys, aggregates (op only under EmitUpdates).
type PhysWindowAggregate struct {
	Input PhysicalPlan
	// Kind, TimeCol (a column of Input), Size, Slide and Gap are the
	// window table function's.
	Kind    WindowKind
	TimeCol int
	Size    time.Duration
	Slide   time.Duration
	Gap     time.Duration
	// Keys (besides the window) and Aggs are over Input's columns.
	Keys []Expr
	Aggs []AggCall
	Emit WindowEmit
	// Delay is the watermark delay of the source (WATERMARK FOR ts AS ts
	// - delay); over a UNION ALL, InputDelays has each input's.
	Delay       time.Duration
	InputDelays []time.Duration
	// AppendWindows: EmitOnClose because the query writes into an
	// append-only sink under EMIT EVERY (Spark's append mode).
	AppendWindows bool
	// Partitioned: the aggregate has keys besides the window, so it runs
	// as the session's parallelism of instances behind a hash exchange
	// on Keys, each with the windows of its keys and its own checkpoint
	// part; every instance tracks the watermark over all rows, so the
	// same rows are late at any parallelism (stream.ParallelWindow).
	// Without keys it runs as one.
	Partitioned bool
	State       StateBound
	Out         *Schema
}

// PhysInsertOps turns an append-only stream into a changelog of inserts
// (+I in a new op column): EMIT CHANGES of a stateless query.
type PhysInsertOps struct {
	Input PhysicalPlan
	Out   *Schema
}

// Schema implements PhysicalPlan.
func (p *PhysGroupAggregate) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysWindowAggregate) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysInsertOps) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysGroupAggregate) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// Children implements PhysicalPlan.
func (p *PhysWindowAggregate) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// Children implements PhysicalPlan.
func (p *PhysInsertOps) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysGroupAggregate) String() string {
	s := fmt.Sprintf("GroupAggregate: keys=[%s] aggs=[%s]", exprList(p.Keys), aggList(p.Aggs))
	if p.Retracting {
		s += " retracting"
	}
	if p.Partitioned {
		s += " partitioned by keys"
	}
	if p.PreAggregate {
		s += ", pre-aggregated per batch"
	}
	if p.DeferEmit {
		s += ", changes held to each trigger"
	}
	return s
}

// String implements PhysicalPlan.
func (p *PhysWindowAggregate) String() string {
	emit := "on close"
	if p.Emit == EmitUpdates {
		emit = "updates"
	}
	if p.AppendWindows {
		emit += " (append windows)"
	}
	w := windowString(p.Kind, p.Input.Schema().Fields[p.TimeCol].Name, p.Size, p.Slide, p.Gap)
	s := fmt.Sprintf("WindowAggregate: %s keys=[%s] aggs=[%s] emit=%s", w, exprList(p.Keys), aggList(p.Aggs), emit)
	if p.Partitioned {
		s += " partitioned by keys"
	}
	return s
}

// String implements PhysicalPlan.
func (p *PhysInsertOps) String() string { return "InsertOps" }

func aggList(aggs []AggCall) string {
	s := make([]string, len(aggs))
	for i, a := range aggs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// opField is the op column of a changelog node's schema.
var opField = Field{Name: OpColumn, Type: arrow.PrimitiveTypes.Int8}

// withOp returns s with the op column in front (metadata shifted).
func withOp(s *Schema) *Schema {
	out := newSchema(append([]Field{opField}, s.Fields...))
	s.remapMeta(out, func(i int) int { return i + 1 })
	return out
}

// opRef is a reference to the op column.
func opRef() Expr { return &ColumnRef{Index: 0, Name: OpColumn, Typ: opField.Type} }
