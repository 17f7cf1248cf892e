package exec

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func argMinMaxResultType(arg arrow.DataType) (arrow.DataType, error) {
	a, v := structFieldType(arg, 0), structFieldType(arg, 1)
	if a == nil || v == nil || structFieldType(arg, 2) != nil || !encodable(a) || !sortable(v) {
		return nil, errUnsupportedArg
	}
	return a, nil
}

func argMinMaxDef(isMax bool) aggDef {
	return aggDef{
		result: argMinMaxResultType,
		state: func(_ memory.Allocator, _, res arrow.DataType, _ AggParams, opts AggOptions) (AggState, error) {
			return &argMinMaxState{max: isMax, typ: res, multi: opts.Retract}, nil
		},
		distinctSame: true,
	}
}

// argMinMaxState is ARG_MIN(arg, val) / ARG_MAX (DuckDB's; MIN_BY and
// MAX_BY): arg of the row with the least (greatest) val, rows with a NULL
// arg or val skipped; of tied rows the first to arrive wins. Each group
// holds a bag of (val, arg) pairs keyed by val's sort key then arg: only
// the best pair without retractions, every live pair with them, so
// retracting the best finds the next.
type argMinMaxState struct {
	max   bool
	typ   arrow.DataType
	multi bool
	bagGroups
	buf []byte
}

// put adds a pair to g; without multi only a better pair replaces the one
// kept.
func (s *argMinMaxState) put(g uint32, key, raw string, w int64, seq uint64) {
	b := &s.bags[g]
	if !s.multi && len(b.entries) == 1 {
		e := &b.entries[0]
		c := strings.Compare(valPart(key, raw), valPart(e.key, e.raw))
		if (s.max && c < 0) || (!s.max && c > 0) || (c == 0 && seq >= e.seq) {
			return // not better, or tied and later
		}
		s.held += b.add(e.key, e.raw, -e.cnt, 0)
	}
	s.held += b.add(key, raw, w, seq)
}

// valPart is the val's sort key in a pair key (the val's key, then the
// escaped arg).
func valPart(key, raw string) string {
	return key[:len(key)-len(raw)-strings.Count(raw, "\x00")-2]
}

func (s *argMinMaxState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	fields, _ := structArg(arr)
	args, vals := fields[0], fields[1]
	getArg, err := rawCell(args)
	if err != nil {
		return err
	}
	valKey, err := valueKeyer(vals)
	if err != nil {
		return err
	}
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || arr.IsNull(i) || args.IsNull(i) || vals.IsNull(i) {
			continue
		}
		if w < 0 && !s.multi {
			return errRetract("ARG_MIN/ARG_MAX")
		}
		raw := getArg(i)
		k := appendEscaped(valKey(s.buf[:0], i), raw)
		s.buf = k
		s.put(g, bytesAsString(k), raw, w, s.seq)
		s.seq++
	}
	return nil
}

func (s *argMinMaxState) Merge(dst, src uint32) error {
	for _, e := range s.bags[src].entries {
		s.put(dst, e.key, e.raw, e.cnt, e.seq)
	}
	s.Reset(src)
	return nil
}

// best returns the kept arg of g: of the pairs with the extreme val, the
// first to arrive.
func (s *argMinMaxState) best(g uint32) (string, bool) {
	es := s.bags[g].entries
	if len(es) == 0 {
		return "", false
	}
	pick := 0
	if s.max {
		pick = len(es) - 1
	}
	b := es[pick]
	bv := valPart(b.key, b.raw)
	for k := range es {
		if e := es[k]; e.seq < b.seq && valPart(e.key, e.raw) == bv {
			b = e
		}
	}
	return b.raw, true
}

func (s *argMinMaxState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.bags))
	}
	raws := make([]string, len(groups))
	valid := make([]bool, len(groups))
	for i, g := range groups {
		raws[i], valid[i] = s.best(g)
	}
	return buildRaw(mem, s.typ, raws, valid)
}
