package compile

import (
	"bytes"
	"context"
	"encoding/gob"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
)

// chain runs a stateful operator's output through a second operator, so a
// pipeline can hold aggregate → projection → top-N as its one Op.
type chain struct {
	mem           memory.Allocator
	first, second stream.Operator
}

var _ stream.Operator = (*chain)(nil)

func (c *chain) Schema() *arrow.Schema   { return c.second.Schema() }
func (c *chain) SinkMode() exec.SinkMode { return c.second.SinkMode() }

func (c *chain) forward(ctx context.Context, rec arrow.Record, err error, part int32) (arrow.Record, error) {
	if err != nil || rec == nil {
		return nil, err
	}
	defer rec.Release()
	return c.second.Push(ctx, rec, part)
}

func (c *chain) Push(ctx context.Context, rec arrow.Record, part int32) (arrow.Record, error) {
	out, err := c.first.Push(ctx, rec, part)
	return c.forward(ctx, out, err, part)
}

func (c *chain) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	out, err := c.first.Tick(ctx, now)
	if out, err = c.forward(ctx, out, err, 0); err != nil || out != nil {
		return out, err
	}
	return c.second.Tick(ctx, now)
}

func (c *chain) Finish(ctx context.Context) (arrow.Record, error) {
	out, err := c.first.Finish(ctx)
	if err != nil {
		return nil, err
	}
	var first arrow.Record
	if out != nil {
		if first, err = c.forward(ctx, out, nil, 0); err != nil {
			return nil, err
		}
	}
	rest, err := c.second.Finish(ctx)
	if err != nil {
		if first != nil {
			first.Release()
		}
		return nil, err
	}
	switch {
	case first == nil:
		return rest, nil
	case rest == nil:
		return first, nil
	}
	defer first.Release()
	defer rest.Release()
	return concat(c.mem, first, rest)
}

func (c *chain) Stats() stream.StateStats {
	a, b := c.first.Stats(), c.second.Stats()
	return stream.StateStats{Groups: a.Groups + b.Groups, Bytes: a.Bytes + b.Bytes}
}

func (c *chain) Close() error {
	err := c.first.Close()
	if err2 := c.second.Close(); err == nil {
		err = err2
	}
	return err
}

// stateless adapts a batch operator built over a Feed into a stateless
// stream.Operator (projection or filter over a changelog).
type stateless struct {
	tr     stream.Transform
	schema *arrow.Schema
	mode   exec.SinkMode
}

func (s *stateless) Schema() *arrow.Schema   { return s.schema }
func (s *stateless) SinkMode() exec.SinkMode { return s.mode }
func (s *stateless) Push(ctx context.Context, rec arrow.Record, _ int32) (arrow.Record, error) {
	return s.tr(ctx, rec)
}
func (s *stateless) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }
func (s *stateless) Finish(context.Context) (arrow.Record, error)          { return nil, nil }
func (s *stateless) Stats() stream.StateStats                              { return stream.StateStats{} }
func (s *stateless) Close() error                                          { return nil }

// statelessOp runs the batch operator build makes over a Feed of records
// of schema in as a stateless stream.Operator (a projection or a filter
// over a changelog), whose output has changelog mode mode.
func statelessOp(mem memory.Allocator, in *arrow.Schema, mode exec.SinkMode, build func(*stream.Feed) (exec.Operator, error)) (stream.Operator, error) {
	feed := stream.NewFeed(in)
	op, err := build(feed)
	if err != nil {
		return nil, err
	}
	return &stateless{tr: stream.OperatorTransform(mem, feed, op), schema: op.Schema(), mode: mode}, nil
}

func concat(mem memory.Allocator, a, b arrow.Record) (arrow.Record, error) {
	cols := make([]arrow.Array, a.NumCols())
	for i := range cols {
		c, err := array.Concatenate([]arrow.Array{a.Column(i), b.Column(i)}, mem)
		if err != nil {
			for _, x := range cols[:i] {
				x.Release()
			}
			return nil, err
		}
		cols[i] = c
	}
	rec := array.NewRecord(a.Schema(), cols, a.NumRows()+b.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

// Snapshot checkpoints both operators' state (either may be stateless).
func (c *chain) Snapshot() ([]byte, error) {
	var parts [2][]byte
	for i, op := range []stream.Operator{c.first, c.second} {
		if s, ok := op.(stream.Snapshotter); ok {
			b, err := s.Snapshot()
			if err != nil {
				return nil, err
			}
			parts[i] = b
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(parts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Restore restores both operators from Snapshot's encoding.
func (c *chain) Restore(data []byte) error {
	var parts [2][]byte
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&parts); err != nil {
		return err
	}
	for i, op := range []stream.Operator{c.first, c.second} {
		if s, ok := op.(stream.Snapshotter); ok && parts[i] != nil {
			if err := s.Restore(parts[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetPartitions forwards the source's partitions to the operators that
// track per-partition watermarks, so a partition that has not sent data
// yet holds the watermark back.
func (c *chain) SetPartitions(parts []int32) {
	for _, op := range []stream.Operator{c.first, c.second} {
		if pa, ok := op.(stream.PartitionAware); ok {
			pa.SetPartitions(parts)
		}
	}
}
