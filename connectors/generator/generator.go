// Package generator is the 'generator' connector: a deterministic,
// orders-like stream (category VARCHAR, value BIGINT, ts TIMESTAMP) for
// demos, tests and benchmarks.
//
// Options: rows_per_second (default 1000; 0 = as fast as possible),
// max_rows (default unbounded; the source is bounded when set),
// categories (default 10), seed (default 1), start_time (default
// '2026-01-01 00:00:00'), max_out_of_orderness (a duration such as '2s').
// Row i has event time start_time + i*spacing, where spacing is
// 1s/rows_per_second (1ms when unlimited), moved back by a jitter of up to
// max_out_of_orderness; category, value and jitter are a pure function of
// (seed, i). So event times, values and any watermark-driven results are
// reproducible whatever the wall clock, batch size or pacing.
package generator

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

func init() {
	connectors.RegisterSource("generator", Options, func(_ connectors.Env, opts connectors.Options, declared *arrow.Schema) (exec.Source, error) {
		return NewSource(opts, declared)
	})
}

// Options are the generator's WITH options.
var Options = []connectors.Option{
	{Name: "rows_per_second", Type: "number", Default: "1000", Doc: "rows generated per second of wall time (0: as fast as possible)"},
	{Name: "max_rows", Type: "integer", Doc: "stop after this many rows (default: never, an unbounded source)"},
	{Name: "categories", Type: "integer", Default: "10", Doc: "distinct values of the category column"},
	{Name: "seed", Type: "integer", Default: "1", Doc: "random seed: the same seed gives the same rows"},
	{Name: "start_time", Type: "timestamp", Default: "2026-01-01 00:00:00", Doc: "event time of the first row"},
	{Name: "max_out_of_orderness", Type: "duration", Default: "0s", Doc: "rows' event times jitter back by up to this much"},
}

// Config is the parsed generator options.
type Config struct {
	RowsPerSecond float64
	MaxRows       int64 // -1 = unbounded
	Categories    int
	Seed          uint64
	Start         time.Time
	MaxDisorder   time.Duration
}

// Spacing is the event-time distance between consecutive rows.
func (c Config) Spacing() time.Duration {
	if c.RowsPerSecond <= 0 {
		return time.Millisecond
	}
	return time.Duration(float64(time.Second) / c.RowsPerSecond)
}

// ParseConfig reads the WITH options.
func ParseConfig(opts connectors.Options) (Config, error) {
	c := Config{RowsPerSecond: 1000, MaxRows: -1, Categories: 10, Seed: 1,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var err error
	if v, ok := opts["rows_per_second"]; ok {
		if c.RowsPerSecond, err = strconv.ParseFloat(v, 64); err != nil || c.RowsPerSecond < 0 {
			return c, fmt.Errorf("generator: rows_per_second must be a number ≥ 0, not %q", v)
		}
	}
	if v, ok := opts["max_rows"]; ok {
		if c.MaxRows, err = strconv.ParseInt(v, 10, 64); err != nil || c.MaxRows < 0 {
			return c, fmt.Errorf("generator: max_rows must be an integer ≥ 0, not %q", v)
		}
	}
	if v, ok := opts["categories"]; ok {
		if c.Categories, err = strconv.Atoi(v); err != nil || c.Categories < 1 {
			return c, fmt.Errorf("generator: categories must be an integer ≥ 1, not %q", v)
		}
	}
	if v, ok := opts["seed"]; ok {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("generator: seed must be an integer, not %q", v)
		}
		c.Seed = uint64(s)
	}
	if v, ok := opts["start_time"]; ok {
		ns, ok := format.ParseTimestamp([]byte(v))
		if !ok {
			return c, fmt.Errorf("generator: start_time must be a timestamp like '2026-01-01 00:00:00', not %q", v)
		}
		c.Start = time.Unix(0, ns).UTC()
	}
	if v, ok := opts["max_out_of_orderness"]; ok {
		d, err := parseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("generator: max_out_of_orderness must be a duration like '2s', not %q", v)
		}
		c.MaxDisorder = d
	}
	return c, nil
}

// parseDuration accepts Go durations ('2s', '1500ms') and '5 seconds'.
func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(strings.ToLower(v))
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	f := strings.Fields(v)
	if len(f) == 2 {
		n, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			unit := map[string]time.Duration{"millisecond": time.Millisecond, "second": time.Second, "minute": time.Minute, "hour": time.Hour}[strings.TrimSuffix(f[1], "s")]
			if unit > 0 {
				return time.Duration(n * float64(unit)), nil
			}
		}
	}
	return 0, fmt.Errorf("bad duration %q", v)
}

// Column names of the generated stream.
const (
	ColCategory = "category"
	ColValue    = "value"
	ColTS       = "ts"
)

// FullSchema is the generator's schema when none is declared.
func FullSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: ColCategory, Type: arrow.BinaryTypes.String},
		{Name: ColValue, Type: arrow.PrimitiveTypes.Int64},
		{Name: ColTS, Type: format.TimestampType},
	}, nil)
}

// Source is a generator source.
type Source struct {
	cfg    Config
	schema *arrow.Schema
	kinds  []int // per schema column: 0 category, 1 value, 2 ts
	cats   []string
}

var _ exec.Source = (*Source)(nil)

// NewSource makes a generator; declared may name a subset of category,
// value and ts in any order.
func NewSource(opts connectors.Options, declared *arrow.Schema) (*Source, error) {
	cfg, err := ParseConfig(opts)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, schema: declared}
	if s.schema == nil {
		s.schema = FullSchema()
	}
	kinds, err := connectors.MatchColumns(s.schema, FullSchema())
	if err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	s.kinds = kinds
	for i := 0; i < cfg.Categories; i++ {
		s.cats = append(s.cats, fmt.Sprintf("cat-%02d", i))
	}
	return s, nil
}

// Config returns the parsed options.
func (s *Source) Config() Config { return s.cfg }

// Schema is the declared schema or FullSchema.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Bounded is true when max_rows is set.
func (s *Source) Bounded() bool { return s.cfg.MaxRows >= 0 }

// Row is one generated row, for tests and for checking results.
type Row struct {
	Category string
	Value    int64
	TS       time.Time
}

// Mix64 is splitmix64, a tiny, well-mixed hash: row i's values depend
// only on (seed, i), so any range of rows can be produced independently.
func Mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (s *Source) row(i int64) (cat int, value int64, tsMicros int64) {
	h := Mix64(s.cfg.Seed*0x2545f4914f6cdd1d ^ uint64(i))
	cat = int(h % uint64(s.cfg.Categories))
	h2 := Mix64(h)
	value = int64(h2 % 1000)
	ts := s.cfg.Start.UnixMicro() + int64(i)*s.cfg.Spacing().Microseconds()
	if s.cfg.MaxDisorder > 0 {
		ts -= int64(Mix64(h2) % uint64(s.cfg.MaxDisorder.Microseconds()+1))
	}
	return cat, value, ts
}

// Row returns generated row i (0-based).
func (s *Source) Row(i int64) Row {
	c, v, ts := s.row(i)
	return Row{Category: s.cats[c], Value: v, TS: time.UnixMicro(ts).UTC()}
}

// Open starts a scan at row spec.From["rows"] (0 by default).
func (s *Source) Open(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (exec.SourceReader, error) {
	if spec.BatchSize <= 0 {
		spec.BatchSize = exec.DefaultBatchSize
	}
	cols := spec.Columns
	if cols == nil {
		for i := range s.kinds {
			cols = append(cols, i)
		}
	}
	fields := make([]arrow.Field, len(cols))
	kinds := make([]int, len(cols))
	for i, c := range cols {
		if c < 0 || c >= len(s.kinds) {
			return nil, fmt.Errorf("generator: column index %d out of range", c)
		}
		fields[i], kinds[i] = s.schema.Field(c), s.kinds[c]
	}
	return NewReader(mem, spec, arrow.NewSchema(fields, nil), s.cfg.RowsPerSecond, s.cfg.MaxRows, func(bld *array.RecordBuilder, from, k int64) {
		s.fill(bld, kinds, from, k)
	}), nil
}

// Fill appends generated rows from … from+k-1 to bld, whose fields are the
// scan's columns.
type Fill func(bld *array.RecordBuilder, from, k int64)

// NewReader is a scan of generated rows out from spec.From["rows"] (0 by
// default) up to maxRows (-1: unbounded), rate rows per second of wall
// time (0: as fast as possible), fill making each row from its index: so
// that a scan resumes from a row count. The generator and the datagen
// connector share it.
func NewReader(mem memory.Allocator, spec exec.ScanSpec, out *arrow.Schema, rate float64, maxRows int64, fill Fill) *Reader {
	if spec.BatchSize <= 0 {
		spec.BatchSize = exec.DefaultBatchSize
	}
	r := &Reader{mem: mem, spec: spec, fillRows: fill, maxRows: maxRows, out: out, next: spec.From["rows"]}
	r.pace = connectors.Pacer{Rate: rate, BatchSize: spec.BatchSize, Linger: spec.Linger, Start: time.Now(), First: r.next}
	if maxRows >= 0 {
		spec.Progress.Expect(exec.ProgressRows, maxRows-r.next)
	}
	return r
}

// Reader produces rows, paced by the wall clock when rows_per_second > 0.
type Reader struct {
	mem      memory.Allocator
	spec     exec.ScanSpec
	fillRows Fill
	maxRows  int64 // -1: unbounded
	out      *arrow.Schema
	next     int64 // next row index
	pace     connectors.Pacer
	done     bool
}

var _ exec.SourceReader = (*Reader)(nil)

// Next returns the next batch: full batches, or with spec.Linger a
// partial batch once its first row has waited that long. io.EOF after
// max_rows; ctx.Err() promptly on cancellation. spec.Bounded does not
// bound a generator without max_rows (it has no "end as of Open"); the
// planner should ask for max_rows in batch mode.
func (r *Reader) Next(ctx context.Context) (exec.Batch, error) {
	if r.done {
		return exec.Batch{}, io.EOF
	}
	limit := r.maxRows
	var bld *array.RecordBuilder
	defer func() {
		if bld != nil {
			bld.Release()
		}
	}()
	n := 0
	var firstAt time.Time
	for {
		if err := ctx.Err(); err != nil {
			return exec.Batch{}, err
		}
		want := int64(r.spec.BatchSize - n)
		if limit >= 0 {
			want = min(want, limit-r.next)
		}
		now := time.Now()
		if up := r.pace.Allowed(now); up >= 0 {
			want = min(want, up-r.next)
		}
		if want > 0 {
			if bld == nil {
				bld = array.NewRecordBuilder(r.mem, r.out)
				// Reserve what this batch will likely hold: a paced
				// source with a linger flushes far fewer rows than
				// BatchSize, and reserving 8192 rows per ~1ms batch
				// was most of the garbage of a continuous query.
				expect := r.pace.Expect()
				for _, f := range bld.Fields() {
					f.Reserve(expect)
					if sb, ok := f.(*array.StringBuilder); ok {
						sb.ReserveData(expect * 8)
					}
				}
			}
			if n == 0 {
				firstAt = now
			}
			r.fill(bld, want)
			n += int(want)
		}
		atEnd := limit >= 0 && r.next >= limit
		if r.pace.Ready(n, atEnd, now, firstAt) {
			rec := bld.NewRecord()
			return exec.Batch{Record: rec}, nil
		}
		if atEnd {
			r.done = true
			return exec.Batch{}, io.EOF
		}
		// Wait for the next token, or the linger deadline.
		if err := r.pace.Wait(ctx, r.next, n, now, firstAt); err != nil {
			return exec.Batch{}, err
		}
	}
}

// fill appends rows r.next … r.next+k-1.
func (r *Reader) fill(bld *array.RecordBuilder, k int64) {
	r.fillRows(bld, r.next, k)
	r.next += k
	r.spec.Progress.Advance(exec.ProgressRows, k)
}

// fill appends the generator's rows from … from+k-1, kinds naming each
// output column (0 category, 1 value, 2 ts).
func (s *Source) fill(bld *array.RecordBuilder, kinds []int, from, k int64) {
	for i := from; i < from+k; i++ {
		cat, v, ts := s.row(i)
		for c, kind := range kinds {
			switch kind {
			case 0:
				bld.Field(c).(*array.StringBuilder).Append(s.cats[cat])
			case 1:
				bld.Field(c).(*array.Int64Builder).Append(v)
			case 2:
				bld.Field(c).(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
			}
		}
	}
}

// Offsets is {"rows": rows produced so far}, From included.
func (r *Reader) Offsets() exec.Offsets { return exec.Offsets{"rows": r.next} }

// Partitions is [0]: one ordered stream.
func (r *Reader) Partitions() []int32 { return []int32{0} }

// Close stops the scan; idempotent.
func (r *Reader) Close() error {
	r.done = true
	return nil
}
