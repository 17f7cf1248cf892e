package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// Expr is the scalar expression the streaming operators evaluate for group
// keys and aggregate arguments. Its method set is the one of expr.Expr
// (exec/expr), so any expr.Expr (expr.Column, expr.Call, …) plugs in.
type Expr interface {
	// Eval computes the expression for every row of rec; the caller
	// releases the result.
	Eval(ctx context.Context, mem memory.Allocator, rec arrow.Record) (arrow.Array, error)
	// DataType is the type of the arrays Eval returns.
	DataType() arrow.DataType
	// String is the canonical form shown in EXPLAIN.
	String() string
}

// AggFunc names an aggregate function that can be maintained incrementally.
type AggFunc int

// Aggregate functions. All of them retract (subtract a row) exactly, which
// is what makes EMIT CHANGES over a changelog input correct: sums are exact
// (integers, DECIMAL) or float sums of signed terms, MIN and MAX over a
// retracting input and every DISTINCT keep a per-group multiset.
const (
	AggCount         AggFunc = iota // COUNT(x): non-null inputs
	AggCountStar                    // COUNT(*): rows
	AggSum                          // SUM(x): int64 for integers, float64 for floats, DECIMAL(38, s) for DECIMAL(p, s)
	AggAvg                          // AVG(x): float64
	AggMin                          // MIN(x)
	AggMax                          // MAX(x)
	AggCountDistinct                // COUNT(DISTINCT x)
	// AggNamed is a function of the accumulator layer named by
	// AggSpec.FuncName (one without a constant here).
	AggNamed
)

// String renders the function name as SQL.
func (f AggFunc) String() string {
	return [...]string{"COUNT", "COUNT(*)", "SUM", "AVG", "MIN", "MAX", "COUNT DISTINCT", "aggregate"}[f]
}

// AggSpec is one aggregate of a streaming aggregation.
type AggSpec struct {
	Func AggFunc
	// Distinct folds each distinct non-NULL value once (SUM(DISTINCT x),
	// AVG(DISTINCT x)); AggCountDistinct implies it, and MIN and MAX ignore
	// it (their result is the same).
	Distinct bool
	// Arg is the argument; nil for AggCountStar.
	Arg Expr
	// Name is the output column name.
	Name string
	// Type, when set, is the result type the plan expects (see
	// resolveAgg).
	Type arrow.DataType
	// FuncName, when set, names the function in the accumulator layer
	// (exec.NewAggState) directly, for functions without an AggFunc
	// constant; Func then only names it in messages.
	FuncName string
	// Params are the call's constant parts (exec.AggParams).
	Params exec.AggParams
	// SQL and Pos name the call in data errors (exec.AggCall).
	SQL string
	Pos expr.Pos
}

// GroupKey is one GROUP BY expression and its output column name.
type GroupKey struct {
	Expr Expr
	Name string
}

// StateStats is the size of an operator's state, reported by every
// stateful streaming operator so EXPLAIN ANALYZE and tests can see that
// state stays bounded.
type StateStats struct {
	// Groups is the number of live keyed entries (groups, or
	// window×group pairs, or rows held by top-N).
	Groups int
	// Bytes estimates the heap bytes the state holds.
	Bytes int64
	// Spilled is how many of Groups are on disk (past the memory
	// budget, see exec.Budget.WithSpill), SpilledBytes their encoded
	// size, Spills how many times state was spilled.
	Spilled      int
	SpilledBytes int64
	Spills       int
}

// Add adds o's counts to s (the state of several nodes or instances).
func (s *StateStats) Add(o StateStats) {
	s.Groups += o.Groups
	s.Bytes += o.Bytes
	s.Spilled += o.Spilled
	s.SpilledBytes += o.SpilledBytes
	s.Spills += o.Spills
}

// aggCall is the exec.AggCall of s: the name of its function in the
// accumulator layer (exec.NewAggState).
func aggCall(s AggSpec) (exec.AggCall, error) {
	c := exec.AggCall{Arg: s.Arg, Name: s.Name, Distinct: s.Distinct, Type: s.Type, Params: s.Params, SQL: s.SQL, Pos: s.Pos}
	switch s.Func {
	case AggCount:
		c.Func = "count"
	case AggCountStar:
		c.Func, c.Arg = "count_star", nil
	case AggSum:
		c.Func = "sum"
	case AggAvg:
		c.Func = "avg"
	case AggMin:
		c.Func = "min"
	case AggMax:
		c.Func = "max"
	case AggCountDistinct:
		c.Func, c.Distinct = "count", true
	case AggNamed:
		c.Func = s.FuncName
	default:
		return c, fmt.Errorf("stream: unknown aggregate %d", s.Func)
	}
	if c.Func != "count_star" && s.Arg == nil {
		return c, fmt.Errorf("stream: %s needs an argument", s.Func)
	}
	return c, nil
}

// aggCore is the aggregates of a streaming operator in the one accumulator
// layer: the calls, and a factory of their accumulators (a window's or
// the operator's groups).
type aggCore struct {
	mem   memory.Allocator
	calls []exec.AggCall
	names []string // the functions as SQL names them, for messages
	opts  exec.AggOptions
	types []arrow.DataType // output types, one per output value
	// phase, when set, makes the output values the phase's columns
	// (exec.AggPhase: merging partial states, where AVG is a sum and a
	// count) instead of one value per call.
	phase *exec.AggPhase
}

// newFinalAggCore is the core of an aggregate that merges the partial
// state rows of specs (exec.AggFinal) grouped by nkeys keys: its calls
// read the state columns, its outputs are the specs' values.
func newFinalAggCore(mem memory.Allocator, specs []AggSpec, nkeys int) (*aggCore, error) {
	whole, err := newAggCore(mem, specs, exec.AggOptions{})
	if err != nil {
		return nil, err
	}
	phase, err := exec.NewAggPhase(exec.AggFinal, whole.calls, nkeys)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	c := &aggCore{mem: mem, calls: phase.Calls, opts: exec.AggOptions{Streaming: true}, phase: phase}
	accs := make([]*exec.Accumulator, len(phase.Calls))
	for j, call := range phase.Calls {
		a, err := exec.NewAccumulator(mem, call, c.opts)
		if err != nil {
			return nil, fmt.Errorf("stream: %s: %w", call.Name, err)
		}
		accs[j] = a
		// Messages name the aggregate as written, not its state.
		c.names = append(c.names, whole.label(phase.Of[j]))
	}
	fields, err := phase.Fields(accs)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	for j, f := range fields {
		if !arrow.TypeEqual(f.Type, whole.types[j]) {
			return nil, fmt.Errorf("stream: merged %s is %s, the aggregate computes %s", specs[j].Name, f.Type, whole.types[j])
		}
		c.types = append(c.types, f.Type)
	}
	return c, nil
}

// width is the number of output values per group.
func (c *aggCore) width() int { return len(c.types) }

// newAggCore resolves specs for an operator that asks opts of its states;
// the result type the planner expects (AggSpec.Type) is checked here.
func newAggCore(mem memory.Allocator, specs []AggSpec, opts exec.AggOptions) (*aggCore, error) {
	c := &aggCore{mem: mem, opts: opts}
	for _, s := range specs {
		call, err := aggCall(s)
		if err != nil {
			return nil, err
		}
		a, err := exec.NewAccumulator(mem, call, opts)
		if err != nil {
			return nil, fmt.Errorf("stream: %s: %w", s.Name, err)
		}
		c.calls = append(c.calls, call)
		c.types = append(c.types, a.DataType())
		name := s.Func.String()
		if s.Func == AggNamed {
			name = strings.ToUpper(s.FuncName)
		}
		c.names = append(c.names, name)
	}
	return c, nil
}

// accumulators returns a fresh, empty accumulator per call.
func (c *aggCore) accumulators() []*exec.Accumulator {
	accs := make([]*exec.Accumulator, len(c.calls))
	for j, call := range c.calls {
		a, err := exec.NewAccumulator(c.mem, call, c.opts)
		if err != nil {
			panic(fmt.Sprintf("stream: accumulator %s failed after it was built once: %v", call.Name, err))
		}
		accs[j] = a
	}
	return accs
}

// update folds one batch's evaluated arguments (nil for COUNT(*)) into
// accs: row r into group gids[r] with weight signs[r] (nil: all +1).
func (c *aggCore) update(ctx context.Context, accs []*exec.Accumulator, gids []uint32, args []arrow.Array, signs []int8) error {
	for j, a := range accs {
		if err := a.Update(ctx, gids, args[j], signs); err != nil {
			var de expr.DataError
			if errors.As(err, &de) {
				return err // complete: it names the call
			}
			label := c.names[j]
			if c.phase == nil {
				label = c.label(j)
			}
			return fmt.Errorf("aggregate: %s: %w", label, err)
		}
	}
	return nil
}

// label names call j as the query writes it, e.g. SUM(v), for messages.
func (c *aggCore) label(j int) string {
	return c.names[j] + "(" + argString(c.calls[j]) + ")"
}

func argString(c exec.AggCall) string {
	if c.Arg == nil {
		return "*"
	}
	return c.Arg.String()
}

// results reads the output values of groups from accs, appending them to
// dst group by group (width values per group).
func (c *aggCore) results(accs []*exec.Accumulator, groups []uint32, dst []Value) ([]Value, error) {
	if len(groups) == 0 {
		return dst, nil
	}
	res := make([]arrow.Array, 0, len(accs))
	defer func() { releaseArrays(res) }()
	for j, a := range accs {
		arr, err := a.Result(c.mem, groups)
		if err != nil {
			return dst, fmt.Errorf("aggregate %s: %w", c.calls[j].Name, err)
		}
		res = append(res, arr)
	}
	outs := res
	if c.phase != nil {
		cols, err := c.phase.Columns(c.mem, res)
		if err != nil {
			return dst, fmt.Errorf("stream: %w", err)
		}
		defer releaseArrays(cols)
		outs = cols
	}
	base := len(dst)
	na := len(outs)
	dst = append(dst, make([]Value, len(groups)*na)...)
	for j, arr := range outs {
		rd, err := reader(arr)
		if err != nil {
			return dst, err
		}
		for i := range groups {
			dst[base+i*na+j] = rd(i)
		}
	}
	return dst, nil
}

// saveGroup is group g's state in every accumulator, concatenated.
func saveGroup(accs []*exec.Accumulator, g uint32) ([]byte, error) {
	var b []byte
	for _, a := range accs {
		var err error
		if b, err = a.Save(b, g); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// loadGroup sets group g of accs from saveGroup's bytes.
func loadGroup(accs []*exec.Accumulator, g uint32, b []byte) error {
	for _, a := range accs {
		var err error
		if b, err = a.Load(g, b); err != nil {
			return fmt.Errorf("stream: restoring aggregate state: %w", err)
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("stream: restoring aggregate state: %d bytes left over", len(b))
	}
	return nil
}

// accsBytes is the estimated heap of accs.
func accsBytes(accs []*exec.Accumulator) int64 {
	var n int64
	for _, a := range accs {
		n += a.Bytes()
	}
	return n
}
