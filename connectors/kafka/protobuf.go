package kafka

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicesql/sluice/connectors/format"
)

// Protobuf with a Confluent Schema Registry ('format' = 'protobuf',
// 'schema.registry.url'): every record value is the magic byte 0, the
// writer schema's 4-byte id, the message-index path (which message of the
// .proto file, zig-zag varints; a single 0 byte for the first message)
// and the message. Schemas (.proto text, with the subjects they reference)
// are fetched by id once and compiled; a source without declared columns
// takes them from the first message of the latest schema of
// '<topic>-value', and a sink registers a schema of its result's columns
// there (one message, every field optional).

// maxIndexDepth bounds the message-index path a record may carry.
const maxIndexDepth = 64

// protoByID is the compiled .proto file registered under id.
func (r *registry) protoByID(id int) (protoreflect.FileDescriptor, error) {
	r.mu.Lock()
	fd := r.protos[id]
	r.mu.Unlock()
	if fd != nil {
		return fd, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	rs, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: schema id %d: %w", r.url, id, err)
	}
	if rs.Type != sr.TypeProtobuf {
		return nil, fmt.Errorf("schema registry %s: schema id %d is %s, not Protobuf", r.url, id, rs.Type)
	}
	const main = "registered.proto"
	files := map[string]string{main: rs.Schema}
	if err := r.addReferences(ctx, rs.References, files, 0); err != nil {
		return nil, fmt.Errorf("schema registry %s: schema id %d: %w", r.url, id, err)
	}
	if fd, err = format.CompileProto(ctx, main, files); err != nil {
		return nil, fmt.Errorf("schema registry %s: schema id %d does not compile: %w", r.url, id, err)
	}
	r.mu.Lock()
	r.protos[id] = fd
	r.mu.Unlock()
	return fd, nil
}

// addReferences puts the text of each referenced schema (and theirs) in
// files under the import name the reference gives.
func (r *registry) addReferences(ctx context.Context, refs []sr.SchemaReference, files map[string]string, depth int) error {
	if depth > 16 {
		return fmt.Errorf("schema references nest deeper than 16 levels")
	}
	for _, ref := range refs {
		if _, ok := files[ref.Name]; ok {
			continue
		}
		ss, err := r.cl.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			return fmt.Errorf("reference %q (subject %q version %d): %w", ref.Name, ref.Subject, ref.Version, err)
		}
		files[ref.Name] = ss.Schema.Schema
		if err := r.addReferences(ctx, ss.References, files, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// inferProtoSchema is the columns of the first message of the subject's
// latest schema ('protobuf.message' names another), and the schema's id.
func inferProtoSchema(cfg *sourceConfig) (*arrow.Schema, int, error) {
	reg, err := registryFor(cfg.registryURL)
	if err != nil {
		return nil, 0, err
	}
	id, err := reg.latestID(cfg.subject)
	if err != nil {
		return nil, 0, err
	}
	fd, err := reg.protoByID(id)
	if err != nil {
		return nil, 0, err
	}
	md, err := format.ProtoMessage(fd, nil)
	if cfg.protoMessage != "" {
		md, err = format.ProtoMessageNamed(fd, cfg.protoMessage)
	}
	if err == nil {
		var cols *arrow.Schema
		if cols, err = format.ProtoColumns(md); err == nil {
			return cols, id, nil
		}
	}
	return nil, 0, fmt.Errorf("kafka: subject %q (schema id %d): %w", cfg.subject, id, err)
}

// protoValues decodes Confluent-framed Protobuf values into the columns
// cols of schema, with one plan per writer schema id and message.
type protoValues struct {
	reg    *registry
	readID int // the schema id the columns came from; 0 when declared
	schema *arrow.Schema
	cols   []int
	out    *arrow.Schema
	plans  map[planKey]*format.ProtoPlan
	bld    []array.Builder
	rows   int
}

func newProtoValues(mem memory.Allocator, reg *registry, readID int, schema *arrow.Schema, cols []int) *protoValues {
	p := &protoValues{reg: reg, readID: readID, schema: schema, cols: cols, plans: map[planKey]*format.ProtoPlan{}}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = schema.Field(c)
	}
	p.out = arrow.NewSchema(fields, nil)
	p.bld = make([]array.Builder, len(cols))
	for i, f := range fields {
		p.bld[i] = array.NewBuilder(mem, f.Type)
	}
	return p
}

// planKey names a writer message: a schema id and a message-index path
// (as text only when it is deeper than one level).
type planKey struct {
	id, top int
	path    string
}

// plan is the plan for messages of the schema id at the index path.
func (p *protoValues) plan(id int, index []int) (*format.ProtoPlan, error) {
	key := planKey{id: id, top: index[0]}
	if len(index) > 1 {
		key.path = fmt.Sprint(index)
	}
	if pl := p.plans[key]; pl != nil {
		return pl, nil
	}
	fd, err := p.reg.protoByID(id)
	if err != nil {
		return nil, err
	}
	md, err := format.ProtoMessage(fd, index)
	if err != nil {
		return nil, &format.RowError{Msg: fmt.Sprintf("schema id %d: %v", id, err)}
	}
	pl, err := format.NewProtoPlan(md, p.schema, p.cols)
	if err != nil {
		read := "the declared columns"
		if p.readID != 0 {
			read = fmt.Sprintf("schema id %d", p.readID)
		}
		return nil, fmt.Errorf("incompatible schema change: records written with schema id %d cannot be read as %s: %w", id, read, err)
	}
	p.plans[key] = pl
	return pl, nil
}

var confluentHeader sr.ConfluentHeader

func (p *protoValues) append(v []byte) error {
	if v == nil {
		return &format.RowError{Msg: "value is null (a tombstone): the protobuf format reads records"}
	}
	id, rest, err := splitConfluent(v)
	if err != nil {
		return err
	}
	index, msg, err := confluentHeader.DecodeIndex(rest, maxIndexDepth)
	if err != nil {
		return &format.RowError{Msg: fmt.Sprintf("schema id %d: bad message-index path: %v", id, err)}
	}
	pl, err := p.plan(id, index)
	if err != nil {
		return err
	}
	if err := pl.Decode(msg, p.bld); err != nil {
		return fmt.Errorf("schema id %d: %w", id, err)
	}
	p.rows++
	return nil
}

func (p *protoValues) newRecord() arrow.Record {
	cols := make([]arrow.Array, len(p.bld))
	for i, b := range p.bld {
		cols[i] = b.NewArray()
	}
	rec := array.NewRecord(p.out, cols, int64(p.rows))
	for _, c := range cols {
		c.Release()
	}
	p.rows = 0
	return rec
}

func (p *protoValues) release() {
	for _, b := range p.bld {
		b.Release()
	}
}

// protoEncoder writes rows as Confluent-framed Protobuf with a registered
// id.
type protoEncoder struct {
	header []byte // magic byte, id, message index [0]
	cols   []int
	enc    *format.ProtoEncoder
	arrs   []arrow.Array
}

// newProtoEncoder registers the Protobuf schema of cols under the sink's
// subject.
func newProtoEncoder(ctx context.Context, cfg *sinkConfig, schema *arrow.Schema, cols []int) (*protoEncoder, error) {
	reg, name, written, err := sinkSchema(cfg, schema, cols)
	if err != nil {
		return nil, err
	}
	enc, err := format.NewProtoEncoder(name, written)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %q: %w", cfg.topic, err)
	}
	id, err := reg.registerText(ctx, cfg.subject, sr.Schema{Schema: enc.Schema(), Type: sr.TypeProtobuf})
	if err != nil {
		return nil, err
	}
	header, err := confluentHeader.AppendEncode(nil, id, []int{0})
	if err != nil {
		return nil, fmt.Errorf("kafka sink %q: %w", cfg.topic, err)
	}
	return &protoEncoder{header: header, cols: cols, enc: enc, arrs: make([]arrow.Array, len(cols))}, nil
}

func (e *protoEncoder) appendRow(dst []byte, rec arrow.Record, i int) []byte {
	for j, c := range e.cols {
		e.arrs[j] = rec.Column(c)
	}
	dst = append(dst, e.header...)
	return e.enc.Append(dst, e.arrs, i)
}
