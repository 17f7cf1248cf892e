package exec

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Aggregates over several arguments, and those that count NULL values
// (FIRST, LAST), take one struct argument, built by the planner's
// agg_args call: a row of the struct that is NULL is a row the FILTER
// clause dropped, which counts nowhere; its fields are the arguments.

// structArg splits a struct argument into its fields; a plain argument is
// its own only field.
func structArg(arr arrow.Array) (fields []arrow.Array, isStruct bool) {
	if s, ok := arr.(*array.Struct); ok {
		fields = make([]arrow.Array, s.NumField())
		for k := range fields {
			fields[k] = s.Field(k)
		}
		return fields, true
	}
	return []arrow.Array{arr}, false
}

// structFieldType is the type of field k of a struct argument type (the
// type itself for a plain argument at k = 0), or nil.
func structFieldType(t arrow.DataType, k int) arrow.DataType {
	if st, ok := t.(*arrow.StructType); ok {
		if k < st.NumFields() {
			return st.Field(k).Type
		}
		return nil
	}
	if k == 0 {
		return t
	}
	return nil
}

func firstResultType(arg arrow.DataType) (arrow.DataType, error) {
	t := structFieldType(arg, 0)
	if t == nil || !encodable(t) {
		return nil, errUnsupportedArg
	}
	return t, nil
}

func firstDef(last bool) aggDef {
	return aggDef{
		result: firstResultType,
		state: func(_ memory.Allocator, _, res arrow.DataType, _ AggParams, _ AggOptions) (AggState, error) {
			return &firstState{last: last, typ: res}, nil
		},
		distinctSame: true,
	}
}

// firstState is FIRST (LAST): the value of the group's first (last) row in
// arrival order, NULL included (DuckDB's first/last). Each row gets a
// sequence number, so merged sessions and restored groups keep their
// order. It takes no retractions: which row of an updated group came
// first is not defined (the planner refuses FIRST and LAST over an
// updating input; ARG_MIN(x, ts) is the retractable form).
type firstState struct {
	last  bool
	typ   arrow.DataType
	seq   uint64 // the next row's number
	has   []bool
	valid []bool
	raw   []string
	at    []uint64 // the kept row's number
	held  int64
}

func (s *firstState) Grow(n int) {
	s.has = growSlice(s.has, n)
	s.valid = growSlice(s.valid, n)
	s.raw = growSlice(s.raw, n)
	s.at = growSlice(s.at, n)
}

// keep makes (valid, raw) at sequence number at group g's value if it
// comes first (last).
func (s *firstState) keep(g uint32, valid bool, raw string, at uint64, own bool) {
	if s.has[g] && (s.last && at < s.at[g] || !s.last && at > s.at[g]) {
		return
	}
	if own {
		raw = string([]byte(raw))
	}
	s.held += int64(len(raw) - len(s.raw[g]))
	s.has[g], s.valid[g], s.raw[g], s.at[g] = true, valid, raw, at
}

func (s *firstState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	fields, isStruct := structArg(arr)
	vals := fields[0]
	get, err := rawCell(vals)
	if err != nil {
		return err
	}
	for i, g := range gids {
		w := weight(signs, i)
		if w < 0 {
			return errRetract("FIRST/LAST")
		}
		if w == 0 || (isStruct && arr.IsNull(i)) {
			continue
		}
		at := s.seq
		s.seq++
		if !s.last && s.has[g] {
			continue
		}
		if vals.IsNull(i) {
			s.keep(g, false, "", at, false)
		} else {
			s.keep(g, true, get(i), at, true)
		}
	}
	return nil
}

func (s *firstState) Merge(dst, src uint32) error {
	if s.has[src] {
		s.keep(dst, s.valid[src], s.raw[src], s.at[src], false)
	}
	s.Reset(src)
	return nil
}

func (s *firstState) Reset(g uint32) {
	s.held -= int64(len(s.raw[g]))
	s.has[g], s.valid[g], s.raw[g], s.at[g] = false, false, "", 0
}

func (s *firstState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.has))
	}
	raws := make([]string, len(groups))
	valid := make([]bool, len(groups))
	for i, g := range groups {
		raws[i], valid[i] = s.raw[g], s.has[g] && s.valid[g]
	}
	return buildRaw(mem, s.typ, raws, valid)
}

func (s *firstState) Save(dst []byte, g uint32) ([]byte, error) {
	dst = appendBool(appendBool(dst, s.has[g]), s.valid[g])
	return appendU64(appendStr(dst, s.raw[g]), s.at[g]), nil
}

func (s *firstState) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	has, valid, raw, at := r.boolean(), r.boolean(), r.str(), r.u64()
	if r.err != nil {
		return nil, r.err
	}
	s.Reset(g)
	if has {
		s.keep(g, valid, raw, at, false)
		s.seq = max(s.seq, at+1)
	}
	return r.done()
}

func (s *firstState) Bytes() int64 {
	return sliceBytes(s.has, 2) + sliceBytes(s.raw, 16) + sliceBytes(s.at, 8) + s.held
}
