// Package datagen is Flink's 'datagen' connector: rows of random or
// sequential values for whatever columns the CREATE TABLE declares, so a
// Flink script's datagen tables run unchanged.
//
// Options, as Flink names them: rows-per-second (default 10000; 0 = as
// fast as possible), number-of-rows (default unbounded), and per column
// fields.<col>.kind ('random' or 'sequence'), .min and .max (random
// numbers), .length (random strings, default 100), .start and .end
// (sequences: the source ends when its shortest sequence does), .max-past
// (random timestamps: processing time moved back by up to this much, as
// Flink does) and .null-rate. A value is a pure function of the seed
// ('seed', sluice's addition), its row and its column, so a scan resumes
// from a row count and two runs give the same rows (timestamps aside).
package datagen

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/connectors/generator"
	"github.com/sluicesql/sluice/exec"
)

func init() {
	connectors.RegisterSource("datagen", Options, func(_ connectors.Env, opts connectors.Options, declared *arrow.Schema) (exec.Source, error) {
		return NewSource(opts, declared)
	})
}

// Options are datagen's WITH options; '#' stands for a column's name.
var Options = []connectors.Option{
	{Name: "rows-per-second", Type: "number", Default: "10000", Doc: "rows generated per second of wall time (0: as fast as possible)"},
	{Name: "number-of-rows", Type: "integer", Doc: "stop after this many rows (default: never, an unbounded source)"},
	{Name: "seed", Type: "integer", Default: "1", Doc: "random seed: the same seed gives the same values"},
	{Name: "fields.#.kind", Type: "enum", Default: "random", Values: []string{"random", "sequence"}, Doc: "random values, or a sequence from start to end"},
	{Name: "fields.#.min", Type: "number", Default: "the type's least", Doc: "least random value of a numeric column"},
	{Name: "fields.#.max", Type: "number", Default: "the type's greatest", Doc: "greatest random value of a numeric column"},
	{Name: "fields.#.length", Type: "integer", Default: "100", Doc: "length of a random string"},
	{Name: "fields.#.start", Type: "integer", Doc: "first value of a sequence (required with kind 'sequence')"},
	{Name: "fields.#.end", Type: "integer", Doc: "last value of a sequence (required): the source ends after it"},
	{Name: "fields.#.max-past", Type: "duration", Default: "0", Doc: "a random timestamp is processing time moved back by up to this much"},
	{Name: "fields.#.null-rate", Type: "number", Default: "0", Doc: "share of the column's values that are NULL (0 to 1)"},
}

// column is how one declared column is generated.
type column struct {
	name     string
	typ      arrow.DataType
	sequence bool
	min, max float64 // random numbers, inclusive
	start    int64   // sequence: start + row
	length   int     // random strings
	maxPast  time.Duration
	nullRate float64
}

// Source is a datagen source.
type Source struct {
	schema  *arrow.Schema
	cols    []column
	rate    float64
	maxRows int64 // -1: unbounded
	seed    uint64
}

var _ exec.Source = (*Source)(nil)

// NewSource makes a datagen source for the declared columns.
func NewSource(opts connectors.Options, declared *arrow.Schema) (*Source, error) {
	if declared == nil || declared.NumFields() == 0 {
		return nil, fmt.Errorf("datagen: declare the columns to generate")
	}
	s := &Source{schema: declared, rate: 10000, maxRows: -1, seed: 1}
	var err error
	if v, ok := opts["rows-per-second"]; ok {
		if s.rate, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || s.rate < 0 {
			return nil, optionErr("rows-per-second", "must be a number ≥ 0, not %q", v)
		}
	}
	if v, ok := opts["number-of-rows"]; ok {
		if s.maxRows, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil || s.maxRows < 0 {
			return nil, optionErr("number-of-rows", "must be an integer ≥ 0, not %q", v)
		}
	}
	if v, ok := opts["seed"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, optionErr("seed", "must be an integer, not %q", v)
		}
		s.seed = uint64(n)
	}
	byName := map[string]int{}
	for i, f := range declared.Fields() {
		byName[strings.ToLower(f.Name)] = i
		c, err := newColumn(f, opts)
		if err != nil {
			return nil, err
		}
		if c.sequence {
			end, _ := strconv.ParseInt(opts[fieldKey(f.Name, "end")], 10, 64)
			if n := end - c.start + 1; s.maxRows < 0 || n < s.maxRows {
				s.maxRows = n
			}
		}
		s.cols = append(s.cols, c)
	}
	for k := range opts {
		if rest, ok := strings.CutPrefix(k, "fields."); ok {
			name := rest[:max(0, strings.LastIndexByte(rest, '.'))]
			if _, ok := byName[strings.ToLower(name)]; !ok {
				return nil, optionErr(k, "names no declared column %q", name)
			}
		}
	}
	return s, nil
}

func fieldKey(col, opt string) string { return "fields." + strings.ToLower(col) + "." + opt }

func optionErr(option, format string, args ...any) error {
	return &connectors.OptionError{Option: option, Msg: fmt.Sprintf("datagen: '%s' ", option) + fmt.Sprintf(format, args...)}
}

// newColumn reads the fields.<col>.* options of f.
func newColumn(f arrow.Field, opts connectors.Options) (column, error) {
	c := column{name: f.Name, typ: f.Type, length: 100}
	get := func(opt string) (string, string, bool) {
		k := fieldKey(f.Name, opt)
		v, ok := opts[k]
		return k, strings.TrimSpace(v), ok
	}
	num := func(opt string, dst *float64) error {
		if k, v, ok := get(opt); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return optionErr(k, "must be a number, not %q", v)
			}
			*dst = n
		}
		return nil
	}
	numeric := isNumeric(f.Type)
	c.min, c.max = typeRange(f.Type)
	if err := num("min", &c.min); err != nil {
		return c, err
	}
	if err := num("max", &c.max); err != nil {
		return c, err
	}
	if c.min > c.max {
		return c, optionErr(fieldKey(f.Name, "min"), "%v is above 'fields.%s.max' %v", c.min, strings.ToLower(f.Name), c.max)
	}
	if err := num("null-rate", &c.nullRate); err != nil {
		return c, err
	}
	if c.nullRate < 0 || c.nullRate > 1 {
		return c, optionErr(fieldKey(f.Name, "null-rate"), "must be between 0 and 1, not %v", c.nullRate)
	}
	if k, v, ok := get("length"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, optionErr(k, "must be an integer ≥ 0, not %q", v)
		}
		c.length = n
	}
	if k, v, ok := get("max-past"); ok {
		d, err := time.ParseDuration(strings.ReplaceAll(v, " ", ""))
		if err != nil {
			n, nerr := strconv.ParseInt(v, 10, 64) // Flink takes milliseconds too
			if nerr != nil {
				return c, optionErr(k, "must be a duration like '5s', not %q", v)
			}
			d = time.Duration(n) * time.Millisecond
		}
		c.maxPast = d
	}
	kind := "random"
	if _, v, ok := get("kind"); ok {
		kind = strings.ToLower(v)
	}
	switch kind {
	case "random":
	case "sequence":
		if !isInteger(f.Type) && !isString(f.Type) {
			return c, optionErr(fieldKey(f.Name, "kind"), "'sequence' needs an integer or string column, not %s", format.SQLTypeName(f.Type))
		}
		ks, vs, okS := get("start")
		ke, ve, okE := get("end")
		if !okS || !okE {
			return c, optionErr(fieldKey(f.Name, "kind"), "'sequence' needs 'fields.%s.start' and 'fields.%s.end'", strings.ToLower(f.Name), strings.ToLower(f.Name))
		}
		start, err := strconv.ParseInt(vs, 10, 64)
		if err != nil {
			return c, optionErr(ks, "must be an integer, not %q", vs)
		}
		end, err := strconv.ParseInt(ve, 10, 64)
		if err != nil || end < start {
			return c, optionErr(ke, "must be an integer ≥ the start %d, not %q", start, ve)
		}
		c.sequence, c.start = true, start
	default:
		return c, optionErr(fieldKey(f.Name, "kind"), "must be 'random' or 'sequence', not %q", kind)
	}
	if !numeric && !c.sequence {
		for _, o := range []string{"min", "max"} {
			if k, _, ok := get(o); ok {
				return c, optionErr(k, "applies to numeric columns, not %s", format.SQLTypeName(f.Type))
			}
		}
	}
	if !supported(f.Type) {
		return c, fmt.Errorf("datagen: column %q: cannot generate %s values", f.Name, format.SQLTypeName(f.Type))
	}
	return c, nil
}

func isInteger(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func isString(t arrow.DataType) bool { return t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING }

func isNumeric(t arrow.DataType) bool {
	return isInteger(t) || t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64 || t.ID() == arrow.DECIMAL128
}

func supported(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BOOL, arrow.STRING, arrow.TIMESTAMP, arrow.DATE32, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128:
		return true
	}
	return isInteger(t)
}

// typeRange is the default random range of a numeric type (Flink's: the
// type's whole range; a DECIMAL's by its precision and scale).
func typeRange(t arrow.DataType) (float64, float64) {
	switch t.ID() {
	case arrow.INT8:
		return math.MinInt8, math.MaxInt8
	case arrow.INT16:
		return math.MinInt16, math.MaxInt16
	case arrow.INT32:
		return math.MinInt32, math.MaxInt32
	case arrow.INT64:
		return math.MinInt64, math.MaxInt64
	case arrow.UINT8:
		return 0, math.MaxUint8
	case arrow.UINT16:
		return 0, math.MaxUint16
	case arrow.UINT32:
		return 0, math.MaxUint32
	case arrow.UINT64:
		return 0, math.MaxInt64 // generated through int64
	case arrow.FLOAT32:
		return -math.MaxFloat32, math.MaxFloat32
	case arrow.DECIMAL128:
		d := t.(*arrow.Decimal128Type)
		m := math.Pow10(int(d.Precision-d.Scale)) - math.Pow10(-int(d.Scale))
		return -m, m
	}
	return -math.MaxFloat64, math.MaxFloat64
}

// Schema is the declared schema.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Bounded is true when number-of-rows is set or a column is a sequence.
func (s *Source) Bounded() bool { return s.maxRows >= 0 }

// Open starts a scan at row spec.From["rows"] (0 by default).
func (s *Source) Open(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (exec.SourceReader, error) {
	cols := spec.Columns
	if cols == nil {
		for i := range s.cols {
			cols = append(cols, i)
		}
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		if c < 0 || c >= len(s.cols) {
			return nil, fmt.Errorf("datagen: column index %d out of range", c)
		}
		fields[i] = s.schema.Field(c)
	}
	return generator.NewReader(mem, spec, arrow.NewSchema(fields, nil), s.rate, s.maxRows, func(bld *array.RecordBuilder, from, k int64) {
		now := time.Now().UnixMicro()
		for i, c := range cols {
			s.fill(bld.Field(i), c, from, k, now)
		}
	}), nil
}

// fill appends rows from … from+k-1 of column col to b.
func (s *Source) fill(b array.Builder, col int, from, k int64, now int64) {
	c := &s.cols[col]
	for row := from; row < from+k; row++ {
		h := generator.Mix64(s.seed*0x2545f4914f6cdd1d ^ generator.Mix64(uint64(row)*0x9e3779b97f4a7c15+uint64(col)))
		if c.nullRate > 0 && float64(h>>11)/(1<<53) < c.nullRate {
			b.AppendNull()
			continue
		}
		h = generator.Mix64(h)
		u := float64(h>>11) / (1 << 53) // uniform in [0, 1)
		if c.sequence {
			v := c.start + row
			switch b := b.(type) {
			case *array.StringBuilder:
				b.Append(strconv.FormatInt(v, 10))
			default:
				appendInt(b, v)
			}
			continue
		}
		switch b := b.(type) {
		case *array.BooleanBuilder:
			b.Append(h&1 == 1)
		case *array.StringBuilder:
			b.Append(randomString(h, c.length))
		case *array.TimestampBuilder:
			past := int64(0)
			if c.maxPast > 0 {
				past = int64(h % uint64(c.maxPast.Microseconds()+1))
			}
			b.Append(arrow.Timestamp(now - past))
		case *array.Date32Builder:
			b.Append(arrow.Date32(now / (86400 * 1e6)))
		case *array.Float32Builder:
			b.Append(float32(c.min + u*(c.max-c.min)))
		case *array.Float64Builder:
			b.Append(c.min + u*(c.max-c.min))
		case *array.Decimal128Builder:
			scale := b.Type().(*arrow.Decimal128Type).Scale
			v := c.min + u*(c.max-c.min)
			n, _ := new(big.Float).SetFloat64(v * math.Pow10(int(scale))).Int(nil)
			b.Append(decimal128.FromBigInt(n))
		default:
			// Integers: uniform over [min, max] in integer arithmetic, so
			// a 64-bit range's ends are exact.
			lo, hi := toInt64(c.min), toInt64(c.max)
			v := int64(h) // the whole int64 range
			if span := uint64(hi - lo); span != math.MaxUint64 {
				v = lo + int64(h%(span+1))
			}
			appendInt(b, v)
		}
	}
}

// toInt64 is f clamped into int64 (float64 cannot hold MaxInt64 exactly).
func toInt64(f float64) int64 {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

func appendInt(b array.Builder, v int64) {
	switch b := b.(type) {
	case *array.Int8Builder:
		b.Append(int8(v))
	case *array.Int16Builder:
		b.Append(int16(v))
	case *array.Int32Builder:
		b.Append(int32(v))
	case *array.Int64Builder:
		b.Append(v)
	case *array.Uint8Builder:
		b.Append(uint8(v))
	case *array.Uint16Builder:
		b.Append(uint16(v))
	case *array.Uint32Builder:
		b.Append(uint32(v))
	case *array.Uint64Builder:
		b.Append(uint64(v))
	}
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomString is n characters drawn from h.
func randomString(h uint64, n int) string {
	buf := make([]byte, n)
	for i := range buf {
		if i%10 == 0 {
			h = generator.Mix64(h)
		}
		buf[i] = letters[h%uint64(len(letters))]
		h /= uint64(len(letters))
	}
	return string(buf)
}
