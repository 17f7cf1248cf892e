// Package nexmark is the 'nexmark' connector: the Person, Auction and Bid
// streams of the Nexmark benchmark, generated as the reference generator
// (github.com/nexmark/nexmark, nexmark-flink) does.
//
// One source is one of the three streams ('table' = 'bid' | 'auction' |
// 'person', as RisingWave's nexmark connector). All three come from one
// sequence of events, in proportion 1 person : 3 auctions : 46 bids, so
// sources of the same seed and rate describe the same events and joins
// across them match: a bid refers to an auction and a bidder that exist
// (or are about to), an auction to a seller.
//
// Options:
//   - 'table': bid (default), auction or person.
//   - 'events': events in the whole sequence (all three kinds); the source
//     is bounded when set, so a bid source of 1000000 events yields 920000
//     bids. Unbounded by default.
//   - 'rate': events per second of event time, also the pace in wall-clock
//     time; 0 (the default) emits as fast as possible, with event time
//     advancing at 10000 events/s (the reference's default rate).
//   - 'seed': the random seed (default 1). Event n's values are a pure
//     function of (seed, n), so a scan can resume at any event and a
//     replay repeats the stream exactly.
//   - 'start_time': the event time of event 0 (default '2026-01-01
//     00:00:00'); the reference uses the wall clock, which would make runs
//     differ.
//
// Columns are named as in the nexmark-flink queries; each stream has a
// dateTime column and, unless the CREATE SOURCE declares its own, a
// watermark of dateTime - 4 s (the reference's DDL). The generated stream
// is in event-time order, so that watermark drops nothing.
//
// Differences from the reference: every value is drawn from a generator
// seeded by (seed, event number) rather than one sequential generator, so
// that any range of events can be produced on its own; the reference adds
// the first person id twice to a bid's bidder, which makes no bidder a
// person, and sluice adds it once.
package nexmark

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
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
	connectors.RegisterSource("nexmark", Options, func(_ connectors.Env, opts connectors.Options, declared *arrow.Schema) (exec.Source, error) {
		return NewSource(opts, declared)
	})
}

// Options are the nexmark source's WITH options.
var Options = []connectors.Option{
	{Name: "table", Type: "enum", Default: "bid", Values: []string{"bid", "auction", "person"}, Doc: "which of the three Nexmark streams"},
	{Name: "events", Type: "integer", Doc: "stop after this many events (default: never, an unbounded source)"},
	{Name: "rate", Type: "number", Doc: "events per second of wall time (default: as fast as possible)"},
	{Name: "seed", Type: "integer", Default: "1", Doc: "random seed: the same seed gives the same events"},
	{Name: "start_time", Type: "timestamp", Default: "2026-01-01 00:00:00", Doc: "event time of the first event"},
}

// Table is one of the three Nexmark streams.
type Table int

// The streams.
const (
	Person Table = iota
	Auction
	Bid
)

func (t Table) String() string { return [...]string{"person", "auction", "bid"}[t] }

// Config is the parsed options.
type Config struct {
	Table  Table
	Events int64 // -1 = unbounded
	Rate   float64
	Seed   uint64
	Start  time.Time
}

// timestamp is the event time of event n in milliseconds, as the
// reference's timestampForEvent: base + n × inter-event delay.
func (c *Config) timestamp(n int64) int64 {
	rate := c.Rate
	if rate <= 0 {
		rate = defaultEventRate
	}
	return c.Start.UnixMilli() + int64(float64(n)*1e6/rate)/1000
}

// ParseConfig reads the WITH options.
func ParseConfig(opts connectors.Options) (Config, error) {
	c := Config{Table: Bid, Events: -1, Seed: 1, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if v, ok := opts["table"]; ok {
		switch strings.ToLower(v) {
		case "bid":
			c.Table = Bid
		case "auction":
			c.Table = Auction
		case "person":
			c.Table = Person
		default:
			return c, fmt.Errorf("nexmark: option 'table' must be 'bid', 'auction' or 'person', not %q", v)
		}
	}
	if v, ok := opts["events"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return c, fmt.Errorf("nexmark: option 'events' must be an integer ≥ 0, not %q", v)
		}
		c.Events = n
	}
	if v, ok := opts["rate"]; ok {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 {
			return c, fmt.Errorf("nexmark: option 'rate' must be a number of events per second ≥ 0, not %q", v)
		}
		c.Rate = r
	}
	if v, ok := opts["seed"]; ok {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("nexmark: option 'seed' must be an integer, not %q", v)
		}
		c.Seed = uint64(s)
	}
	if v, ok := opts["start_time"]; ok {
		ns, ok := format.ParseTimestamp([]byte(v))
		if !ok {
			return c, fmt.Errorf("nexmark: option 'start_time' must be a timestamp like '2026-01-01 00:00:00', not %q", v)
		}
		c.Start = time.Unix(0, ns).UTC()
	}
	return c, nil
}

// WatermarkDelay is the default watermark's delay behind dateTime.
const WatermarkDelay = 4 * time.Second

// TimeColumn is every stream's event-time column.
const TimeColumn = "dateTime"

var (
	i64 = arrow.PrimitiveTypes.Int64
	str = arrow.BinaryTypes.String
	ts  = format.TimestampType
)

// Schema is the full schema of a stream.
func Schema(t Table) *arrow.Schema {
	f := func(names string, types ...arrow.DataType) *arrow.Schema {
		var fs []arrow.Field
		for i, n := range strings.Split(names, ",") {
			fs = append(fs, arrow.Field{Name: n, Type: types[i]})
		}
		return arrow.NewSchema(fs, nil)
	}
	switch t {
	case Person:
		return f("id,name,emailAddress,creditCard,city,state,dateTime,extra", i64, str, str, str, str, str, ts, str)
	case Auction:
		return f("id,itemName,description,initialBid,reserve,dateTime,expires,seller,category,extra",
			i64, str, str, i64, i64, ts, ts, i64, i64, str)
	default:
		return f("auction,bidder,price,channel,url,dateTime,extra", i64, i64, i64, str, str, ts, str)
	}
}

// Source is one Nexmark stream.
type Source struct {
	cfg    Config
	schema *arrow.Schema
	cols   []int // per schema column: its index in Schema(cfg.Table)
}

var (
	_ exec.Source     = (*Source)(nil)
	_ exec.EventTimed = (*Source)(nil)
)

// NewSource makes a stream; declared may name a subset of the stream's
// columns in any order, with their types.
func NewSource(opts connectors.Options, declared *arrow.Schema) (*Source, error) {
	cfg, err := ParseConfig(opts)
	if err != nil {
		return nil, err
	}
	full := Schema(cfg.Table)
	s := &Source{cfg: cfg, schema: declared}
	if s.schema == nil {
		s.schema = full
	}
	cols, err := connectors.MatchColumns(s.schema, full)
	if err != nil {
		return nil, fmt.Errorf("nexmark %s: %w", cfg.Table, err)
	}
	s.cols = cols
	return s, nil
}

// Config returns the parsed options.
func (s *Source) Config() Config { return s.cfg }

// Schema is the declared schema or the stream's full schema.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Bounded is true when 'events' is set.
func (s *Source) Bounded() bool { return s.cfg.Events >= 0 }

// EventTime is dateTime with the reference's 4 s delay, when the schema
// has it.
func (s *Source) EventTime() (string, time.Duration) {
	for _, f := range s.schema.Fields() {
		if strings.EqualFold(f.Name, TimeColumn) {
			return f.Name, WatermarkDelay
		}
	}
	return "", 0
}

// Open starts a scan at event spec.From["events"] (0 by default).
func (s *Source) Open(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (exec.SourceReader, error) {
	if spec.BatchSize <= 0 {
		spec.BatchSize = exec.DefaultBatchSize
	}
	cols := spec.Columns
	if cols == nil {
		for i := range s.cols {
			cols = append(cols, i)
		}
	}
	fields := make([]arrow.Field, len(cols))
	kinds := make([]int, len(cols))
	for i, c := range cols {
		if c < 0 || c >= len(s.cols) {
			return nil, fmt.Errorf("nexmark: column index %d out of range", c)
		}
		fields[i], kinds[i] = s.schema.Field(c), s.cols[c]
	}
	r := &Reader{src: s, mem: mem, spec: spec, kinds: kinds, out: arrow.NewSchema(fields, nil), next: spec.From["events"]}
	r.pace = connectors.Pacer{Rate: s.cfg.Rate, BatchSize: spec.BatchSize, Linger: spec.Linger, Start: time.Now(), First: r.next}
	r.rng = rand.New(&r.pcg)
	return r, nil
}

// Reader produces one stream's rows, paced by the wall clock when 'rate'
// is set.
type Reader struct {
	src   *Source
	mem   memory.Allocator
	spec  exec.ScanSpec
	kinds []int
	out   *arrow.Schema
	next  int64 // next event number (of all kinds)
	pace  connectors.Pacer
	done  bool
	pcg   rand.PCG
	rng   *rand.Rand
	// perRow is the string bytes per row of each column in the last
	// batch.
	perRow []int
}

var _ exec.SourceReader = (*Reader)(nil)

// Next returns the next batch: full batches, or with spec.Linger a
// partial batch once its first row has waited that long; io.EOF after
// 'events'; ctx.Err() promptly on cancellation.
func (r *Reader) Next(ctx context.Context) (exec.Batch, error) {
	if r.done {
		return exec.Batch{}, io.EOF
	}
	cfg := &r.src.cfg
	var bld *array.RecordBuilder
	defer func() {
		if bld != nil {
			bld.Release()
		}
	}()
	rows := 0
	var firstAt time.Time
	for {
		if err := ctx.Err(); err != nil {
			return exec.Batch{}, err
		}
		now := time.Now()
		upTo := int64(-1) // events allowed so far, -1 = any
		if cfg.Events >= 0 {
			upTo = cfg.Events
		}
		if paced := r.pace.Allowed(now); paced >= 0 && (upTo < 0 || paced < upTo) {
			upTo = paced
		}
		for rows < r.spec.BatchSize && (upTo < 0 || r.next < upTo) {
			n := r.next
			r.next++
			if kind(n) != cfg.Table {
				continue
			}
			if bld == nil {
				bld = r.builder()
				firstAt = now
			}
			r.fill(bld, n)
			rows++
		}
		atEnd := cfg.Events >= 0 && r.next >= cfg.Events
		if r.pace.Ready(rows, atEnd, now, firstAt) {
			rec := bld.NewRecord()
			r.remember(rec)
			return exec.Batch{Record: rec}, nil
		}
		if atEnd {
			r.done = true
			return exec.Batch{}, io.EOF
		}
		// Paced: wait for the next event's turn, or the linger deadline.
		if err := r.pace.Wait(ctx, r.next, rows, now, firstAt); err != nil {
			return exec.Batch{}, err
		}
	}
}

// builder is a record builder with room for a batch: string data sized by
// the previous batch, so appending never regrows a buffer (regrowing was
// half the generator's cost).
func (r *Reader) builder() *array.RecordBuilder {
	bld := array.NewRecordBuilder(r.mem, r.out)
	rows := r.pace.Expect()
	for i, f := range bld.Fields() {
		f.Reserve(rows)
		if sb, ok := f.(*array.StringBuilder); ok {
			per := 64
			if i < len(r.perRow) && r.perRow[i] > 0 {
				per = r.perRow[i] + r.perRow[i]/8
			}
			sb.ReserveData(rows * per)
		}
	}
	return bld
}

// remember notes the string bytes per row of rec for the next builder.
func (r *Reader) remember(rec arrow.Record) {
	if r.perRow == nil {
		r.perRow = make([]int, rec.NumCols())
	}
	for i, c := range rec.Columns() {
		if s, ok := c.(*array.String); ok && s.Len() > 0 {
			r.perRow[i] = len(s.ValueBytes())/s.Len() + 1
		}
	}
}

// fill appends event n, which is of the reader's table. Each event is
// generated whole (the draws' order fixes the values) and only the
// scanned columns are appended.
func (r *Reader) fill(bld *array.RecordBuilder, n int64) {
	cfg := &r.src.cfg
	r.pcg.Seed(cfg.Seed, uint64(n))
	tsMs := cfg.timestamp(n)
	tsv := arrow.Timestamp(tsMs * 1000)
	i64s := func(c int, v int64) { bld.Field(c).(*array.Int64Builder).Append(v) }
	strs := func(c int, v string) { bld.Field(c).(*array.StringBuilder).Append(v) }
	tss := func(c int, v arrow.Timestamp) { bld.Field(c).(*array.TimestampBuilder).Append(v) }
	switch cfg.Table {
	case Person:
		p := genPerson(r.rng, n)
		for c, k := range r.kinds {
			switch k {
			case 0:
				i64s(c, p.id)
			case 1:
				strs(c, p.name)
			case 2:
				strs(c, p.email)
			case 3:
				strs(c, p.card)
			case 4:
				strs(c, p.city)
			case 5:
				strs(c, p.state)
			case 6:
				tss(c, tsv)
			case 7:
				strs(c, p.extra)
			}
		}
	case Auction:
		a := genAuction(r.rng, cfg, n, tsMs)
		for c, k := range r.kinds {
			switch k {
			case 0:
				i64s(c, a.id)
			case 1:
				strs(c, a.name)
			case 2:
				strs(c, a.desc)
			case 3:
				i64s(c, a.initialBid)
			case 4:
				i64s(c, a.reserve)
			case 5:
				tss(c, tsv)
			case 6:
				tss(c, arrow.Timestamp(a.expires*1000))
			case 7:
				i64s(c, a.seller)
			case 8:
				i64s(c, a.category)
			case 9:
				strs(c, a.extra)
			}
		}
	default:
		b := genBid(r.rng, n)
		for c, k := range r.kinds {
			switch k {
			case 0:
				i64s(c, b.auction)
			case 1:
				i64s(c, b.bidder)
			case 2:
				i64s(c, b.price)
			case 3:
				strs(c, b.channel)
			case 4:
				strs(c, b.url)
			case 5:
				tss(c, tsv)
			case 6:
				strs(c, b.extra)
			}
		}
	}
}

// Offsets is {"events": events of the whole sequence passed so far}.
func (r *Reader) Offsets() exec.Offsets { return exec.Offsets{"events": r.next} }

// Partitions is [0]: one ordered stream.
func (r *Reader) Partitions() []int32 { return []int32{0} }

// Close stops the scan; idempotent.
func (r *Reader) Close() error {
	r.done = true
	return nil
}
