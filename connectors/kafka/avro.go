package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicesql/sluice/connectors/format"
)

// Avro with a Confluent Schema Registry ('format' = 'avro',
// 'schema.registry.url'): every record value is the magic byte 0, the
// writer schema's 4-byte id and the Avro binary datum. Schemas are fetched
// by id once and cached; a source without declared columns takes them
// from the latest schema of the subject '<topic>-value'
// ('schema.registry.subject' names another), and a sink registers the
// schema of its result under that subject.

// registryTimeout bounds one registry request.
const registryTimeout = 10 * time.Second

// registry is a Schema Registry client with a cache of schemas by id:
// Avro schemas parsed, Protobuf ones compiled.
type registry struct {
	url    string
	cl     *sr.Client
	mu     sync.Mutex
	ids    map[int]avro.Schema
	protos map[int]protoreflect.FileDescriptor
}

var (
	registriesMu sync.Mutex
	registries   = map[string]*registry{}
)

// registryFor is the shared client of the registry at url.
func registryFor(url string) (*registry, error) {
	registriesMu.Lock()
	defer registriesMu.Unlock()
	if r := registries[url]; r != nil {
		return r, nil
	}
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		return nil, optErr("'schema.registry.url' %q: %v", url, err)
	}
	r := &registry{url: url, cl: cl, ids: map[int]avro.Schema{}, protos: map[int]protoreflect.FileDescriptor{}}
	registries[url] = r
	return r, nil
}

// byID is the Avro schema registered under id.
func (r *registry) byID(id int) (avro.Schema, error) {
	r.mu.Lock()
	s := r.ids[id]
	r.mu.Unlock()
	if s != nil {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	rs, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: schema id %d: %w", r.url, id, err)
	}
	if rs.Type != sr.TypeAvro {
		return nil, fmt.Errorf("schema registry %s: schema id %d is %s, not Avro", r.url, id, rs.Type)
	}
	if s, err = avro.Parse(rs.Schema); err != nil {
		return nil, fmt.Errorf("schema registry %s: schema id %d: %w", r.url, id, err)
	}
	r.mu.Lock()
	r.ids[id] = s
	r.mu.Unlock()
	return s, nil
}

// latestID is the id of the subject's latest version.
func (r *registry) latestID(subject string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	ss, err := r.cl.SchemaByVersion(ctx, subject, -1)
	if err != nil {
		return 0, fmt.Errorf("schema registry %s: subject %q: %w", r.url, subject, err)
	}
	return ss.ID, nil
}

// latest is the id and schema of the subject's latest version.
func (r *registry) latest(subject string) (int, avro.Schema, error) {
	id, err := r.latestID(subject)
	if err != nil {
		return 0, nil, err
	}
	s, err := r.byID(id)
	return id, s, err
}

// register registers s under subject and returns its id.
func (r *registry) register(ctx context.Context, subject string, s avro.Schema) (int, error) {
	return r.registerText(ctx, subject, sr.Schema{Schema: s.String(), Type: sr.TypeAvro})
}

// registerText registers s under subject and returns its id.
func (r *registry) registerText(ctx context.Context, subject string, s sr.Schema) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	ss, err := r.cl.CreateSchema(ctx, subject, s)
	if err != nil {
		return 0, fmt.Errorf("schema registry %s: registering subject %q: %w", r.url, subject, err)
	}
	return ss.ID, nil
}

// inferAvroSchema is the columns of the subject's latest schema, and its id.
func inferAvroSchema(cfg *sourceConfig) (*arrow.Schema, int, error) {
	reg, err := registryFor(cfg.registryURL)
	if err != nil {
		return nil, 0, err
	}
	id, s, err := reg.latest(cfg.subject)
	if err != nil {
		return nil, 0, err
	}
	cols, err := format.AvroColumns(s)
	if err != nil {
		return nil, 0, fmt.Errorf("kafka: subject %q (schema id %d): %w", cfg.subject, id, err)
	}
	return cols, id, nil
}

// splitConfluent splits a Confluent-framed value into schema id and datum.
func splitConfluent(v []byte) (int, []byte, error) {
	if len(v) < 5 || v[0] != 0 {
		return 0, nil, &format.RowError{Msg: "value is not in the Confluent wire format (magic byte 0 and a 4-byte schema id)"}
	}
	return int(binary.BigEndian.Uint32(v[1:5])), v[5:], nil
}

// avroValues decodes Confluent-framed Avro values into the columns cols of
// schema, with one plan per writer schema id.
type avroValues struct {
	mem    memory.Allocator
	reg    *registry
	readID int // the schema id the columns came from; 0 when declared
	schema *arrow.Schema
	cols   []int
	out    *arrow.Schema
	plans  map[int]*format.AvroPlan
	bld    []array.Builder
	done   [][]arrow.Array // per column: rows decoded before a bad record
	rows   int             // rows in bld
	rd     *avro.Reader
}

func newAvroValues(mem memory.Allocator, reg *registry, readID int, schema *arrow.Schema, cols []int) *avroValues {
	a := &avroValues{mem: mem, reg: reg, readID: readID, schema: schema, cols: cols, plans: map[int]*format.AvroPlan{},
		rd: avro.NewReader(nil, 0)}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = schema.Field(c)
	}
	a.out = arrow.NewSchema(fields, nil)
	a.newBuilders()
	a.done = make([][]arrow.Array, len(cols))
	return a
}

func (a *avroValues) newBuilders() {
	a.bld = make([]array.Builder, len(a.cols))
	for i, f := range a.out.Fields() {
		a.bld[i] = array.NewBuilder(a.mem, f.Type)
	}
	a.rows = 0
}

// plan is the plan for writer schema id, built on first sight.
func (a *avroValues) plan(id int) (*format.AvroPlan, error) {
	if p := a.plans[id]; p != nil {
		return p, nil
	}
	ws, err := a.reg.byID(id)
	if err != nil {
		return nil, err
	}
	p, err := format.NewAvroPlan(ws, a.schema, a.cols)
	if err != nil {
		read := "the declared columns"
		if a.readID != 0 {
			read = fmt.Sprintf("schema id %d", a.readID)
		}
		return nil, fmt.Errorf("incompatible schema change: records written with schema id %d cannot be read as %s: %w", id, read, err)
	}
	a.plans[id] = p
	return p, nil
}

func (a *avroValues) append(v []byte) error {
	if v == nil {
		return &format.RowError{Msg: "value is null (a tombstone): the avro format reads records"}
	}
	id, datum, err := splitConfluent(v)
	if err != nil {
		return err
	}
	p, err := a.plan(id)
	if err != nil {
		return err
	}
	a.rd.Reset(datum)
	if err := p.Decode(a.rd, a.bld); err != nil {
		a.dropPartialRow()
		return fmt.Errorf("schema id %d: %w", id, err)
	}
	a.rows++
	return nil
}

// dropPartialRow keeps the rows decoded before a bad record, which left
// some builders one value longer than the others.
func (a *avroValues) dropPartialRow() {
	for i, b := range a.bld {
		arr := b.NewArray()
		if a.rows > 0 {
			a.done[i] = append(a.done[i], array.NewSlice(arr, 0, int64(a.rows)))
		}
		arr.Release()
		b.Release()
	}
	a.newBuilders()
}

func (a *avroValues) newRecord() arrow.Record {
	cols := make([]arrow.Array, len(a.bld))
	n := int64(0)
	for i, b := range a.bld {
		arr := b.NewArray()
		if len(a.done[i]) > 0 {
			parts := append(a.done[i], arr)
			cat, err := array.Concatenate(parts, a.mem)
			if err != nil {
				panic(fmt.Sprintf("kafka avro: concatenating decoded rows: %v", err)) // same types by construction
			}
			for _, p := range parts {
				p.Release()
			}
			a.done[i] = nil
			arr = cat
		}
		cols[i] = arr
		n = int64(arr.Len())
	}
	a.rows = 0
	rec := array.NewRecord(a.out, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

func (a *avroValues) release() {
	for i, b := range a.bld {
		b.Release()
		for _, d := range a.done[i] {
			d.Release()
		}
	}
}

// sinkSchema is what a registry-backed sink encoder starts from: the
// sink's registry, the record name derived from its topic (Avro and
// Protobuf names allow neither '-' nor '.'), and the written columns.
func sinkSchema(cfg *sinkConfig, schema *arrow.Schema, cols []int) (*registry, string, *arrow.Schema, error) {
	reg, err := registryFor(cfg.registryURL)
	if err != nil {
		return nil, "", nil, err
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = schema.Field(c)
	}
	name := strings.NewReplacer("-", "_", ".", "_").Replace(cfg.topic)
	return reg, name, arrow.NewSchema(fields, nil), nil
}

// avroEncoder writes rows as Confluent-framed Avro with a registered id.
type avroEncoder struct {
	id   int
	cols []int
	w    *avro.Writer
	arrs []arrow.Array
}

// newAvroEncoder registers the Avro schema of cols under the sink's
// subject.
func newAvroEncoder(ctx context.Context, cfg *sinkConfig, schema *arrow.Schema, cols []int) (*avroEncoder, error) {
	reg, name, written, err := sinkSchema(cfg, schema, cols)
	if err != nil {
		return nil, err
	}
	as, err := format.AvroSchemaFor(name, written)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %q: %w", cfg.topic, err)
	}
	id, err := reg.register(ctx, cfg.subject, as)
	if err != nil {
		return nil, err
	}
	return &avroEncoder{id: id, cols: cols, w: avro.NewWriter(nil, 256), arrs: make([]arrow.Array, len(cols))}, nil
}

func (e *avroEncoder) appendRow(dst []byte, rec arrow.Record, i int) []byte {
	for j, c := range e.cols {
		e.arrs[j] = rec.Column(c)
	}
	e.w.Reset(nil)
	format.AppendAvro(e.w, e.arrs, i)
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(e.id))
	return append(dst, e.w.Buffer()...)
}
