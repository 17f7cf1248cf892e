package exec

import (
	"context"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// Aggregates of the accumulator layer inside OVER (MEDIAN(x) OVER (…),
// STRING_AGG, ARRAY_AGG, BIT_OR, …): one AggState group slides over each
// partition's frames as the frame's rows enter and leave (slide), so the
// value is the one GROUP BY computes over the frame's rows. A function
// that cannot take a row out (FIRST, LAST, APPROX_COUNT_DISTINCT) is
// rebuilt from the frame's rows when one leaves.

// layerWindowAgg splits a window function name into its layer function
// and DISTINCT.
func layerWindowAgg(name string) (string, bool) {
	if _, ok := aggDefs[name]; ok {
		return name, false
	}
	if fn, ok := strings.CutSuffix(name, "_distinct"); ok {
		return fn, true
	}
	return name, false
}

// layerFrames computes f over each position's frame [lo, hi) of p.
func layerFrames(ctx context.Context, mem memory.Allocator, p *partitioned, f AnalyticFunc, arg arrow.Array, lo, hi []int32) (arrow.Array, error) {
	fn, distinct := layerWindowAgg(f.Func)
	arg, err := decodeDictionary(ctx, mem, arg)
	if err != nil {
		return nil, err
	}
	defer arg.Release()
	// A state that takes no retraction is rebuilt from the frame instead.
	retract := takesRetraction(fn)
	st, err := NewAggStateParams(mem, fn, arg.DataType(), distinct, f.Params, AggOptions{Retract: retract, Streaming: true})
	if err != nil {
		return nil, err
	}
	st.Grow(1)
	s := &layerSlider{mem: mem, st: st, arg: arg, retract: retract, out: make([]arrow.Array, len(p.perm))}
	defer func() {
		for _, a := range s.out {
			if a != nil {
				a.Release()
			}
		}
	}()
	if err := slide(ctx, p, lo, hi, s); err != nil {
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	if len(s.out) == 0 {
		return array.MakeArrayOfNull(mem, f.Type, 0), nil
	}
	return array.Concatenate(s.out, mem)
}

// takesRetraction reports whether fn's state takes a row out (FIRST,
// LAST and the HyperLogLog sketch do not).
func takesRetraction(fn string) bool {
	switch fn {
	case "first", "last", "approx_count_distinct":
		return false
	}
	return true
}

// layerSlider feeds one group of an AggState with the rows of the
// current frame. Rows entering and leaving are queued until the next
// emit, then folded with one Update each; a state that takes no
// retraction is rebuilt from the frame's rows when one has left.
type layerSlider struct {
	mem      memory.Allocator
	st       AggState
	arg      arrow.Array
	retract  bool
	frame    []int32 // the frame's rows in order (rebuilt states only)
	entering []int32
	leaving  []int32
	rebuild  bool
	out      []arrow.Array
	err      error
}

func (s *layerSlider) reset() {
	s.st.Reset(0)
	s.frame, s.entering, s.leaving, s.rebuild = s.frame[:0], s.entering[:0], s.leaving[:0], false
}

func (s *layerSlider) add(r int32) error {
	s.entering = append(s.entering, r)
	if !s.retract {
		s.frame = append(s.frame, r)
	}
	return nil
}

func (s *layerSlider) remove(r int32) error {
	if s.retract {
		s.leaving = append(s.leaving, r)
		return nil
	}
	s.frame = s.frame[1:] // rows leave in frame order
	s.rebuild = true
	return nil
}

// fold updates group 0 with rows, each with weight sign.
func (s *layerSlider) fold(rows []int32, sign int8) error {
	if len(rows) == 0 {
		return nil
	}
	a, err := expr.TakeArray(s.mem, s.arg, rows)
	if err != nil {
		return err
	}
	defer a.Release()
	gids := make([]uint32, len(rows))
	var signs []int8
	if sign < 0 {
		signs = make([]int8, len(rows))
		for i := range signs {
			signs[i] = sign
		}
	}
	return s.st.Update(gids, a, signs)
}

func (s *layerSlider) emit(k int32) {
	if s.err != nil {
		return
	}
	if s.rebuild {
		s.st.Reset(0)
		s.entering = append(s.entering[:0], s.frame...)
		s.leaving, s.rebuild = s.leaving[:0], false
	}
	if s.err = s.fold(s.entering, 1); s.err != nil {
		return
	}
	if s.err = s.fold(s.leaving, -1); s.err != nil {
		return
	}
	s.entering, s.leaving = s.entering[:0], s.leaving[:0]
	s.out[k], s.err = s.st.Result(s.mem, []uint32{0})
}
