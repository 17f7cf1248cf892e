package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// UnionInput is one input of a UnionReader: an opened source scan and the
// stateless transforms (filters, projections, window assignment) of its
// branch, which bring its batches to the union's schema.
type UnionInput struct {
	Reader     exec.SourceReader
	Transforms []Transform
}

// unionPartBits is how many low bits of a union partition id are the
// input's own partition; the input's index is above them.
const unionPartBits = 16

// UnionPartition is the partition id a UnionReader gives partition p of
// input i, unique across inputs, so that the watermark — tracked per
// partition, the minimum across them — is the minimum over the inputs and
// each input's partitions go idle on their own.
func UnionPartition(i int, p int32) int32 { return int32(i)<<unionPartBits | p&(1<<unionPartBits-1) }

// UnionInputOf is the input index of a UnionReader partition id.
func UnionInputOf(p int32) int { return int(p >> unionPartBits) }

// UnionReader is streaming UNION ALL: it reads every input on its own
// goroutine, runs the input's branch transforms there, and returns the
// batches in arrival order, each from its input's partitions renumbered
// by UnionPartition. Its offsets are the inputs' offsets, each key
// prefixed by the input's index ("0:…", "1:…"), so one checkpoint holds
// every input's position and OpenUnion resumes each from its own. It ends
// (io.EOF) when every input has ended. With an Alignment it holds back an
// input whose event time runs ahead of the others'.
type UnionReader struct {
	inputs []UnionInput
	align  *aligner // nil: not aligned
	ch     chan unionArrival
	cancel context.CancelFunc
	wg     sync.WaitGroup

	offsets []exec.Offsets // per input, as of the last batch returned
	parts   [][]int32      // per input, as of the last batch returned
	live    int            // inputs not yet at their end
	err     error
	closed  bool
}

var (
	_ exec.SourceReader    = (*UnionReader)(nil)
	_ exec.OffsetCommitter = (*UnionReader)(nil)
	_ exec.BadRowCounter   = (*UnionReader)(nil)
)

type unionArrival struct {
	input int
	b     exec.Batch
	offs  exec.Offsets
	parts []int32
	err   error
	// ts is the batch's largest event time, when hasTs (aligned only).
	ts    int64
	hasTs bool
}

// NewUnionReader starts reading inputs; it takes ownership of their
// readers (Close closes them).
func NewUnionReader(ctx context.Context, inputs []UnionInput) *UnionReader {
	return NewAlignedUnionReader(ctx, inputs, Alignment{})
}

// NewAlignedUnionReader is NewUnionReader with the inputs' event times
// aligned by align (see Alignment).
func NewAlignedUnionReader(ctx context.Context, inputs []UnionInput, align Alignment) *UnionReader {
	ctx, cancel := context.WithCancel(ctx)
	u := &UnionReader{inputs: inputs, ch: make(chan unionArrival, 4*len(inputs)), cancel: cancel,
		offsets: make([]exec.Offsets, len(inputs)), parts: make([][]int32, len(inputs)), live: len(inputs),
		align: newAligner(align, len(inputs))}
	for i, in := range inputs {
		u.offsets[i] = in.Reader.Offsets()
		u.parts[i] = in.Reader.Partitions()
		u.wg.Add(1)
		go u.read(ctx, i)
	}
	return u
}

// read is input i's goroutine: read, transform, hand over.
func (u *UnionReader) read(ctx context.Context, i int) {
	defer u.wg.Done()
	in := u.inputs[i]
	for {
		if u.align != nil {
			if u.align.hold(ctx, i) != nil {
				return // closed
			}
			u.align.enterNext(i)
		}
		b, err := in.Reader.Next(ctx)
		a := unionArrival{input: i, err: err}
		if err == nil {
			a.offs, a.parts = in.Reader.Offsets(), in.Reader.Partitions()
			rec, terr := applyTransforms(ctx, in.Transforms, b.Record)
			if terr != nil {
				a.err = terr
			} else {
				a.b = exec.Batch{Record: rec, Partition: UnionPartition(i, b.Partition)}
			}
		}
		if u.align != nil {
			a.ts, a.hasTs = u.align.read(i, a.b.Record)
		}
		select {
		case u.ch <- a:
		case <-ctx.Done():
			if a.b.Record != nil {
				a.b.Record.Release()
			}
			return
		}
		if a.err != nil {
			return
		}
	}
}

// applyTransforms runs rec through trs and releases rec; it returns the
// result, or an empty record of the last schema when a transform drops
// the batch, so the partition still counts as active for the watermark.
func applyTransforms(ctx context.Context, trs []Transform, rec arrow.Record) (arrow.Record, error) {
	for _, t := range trs {
		out, err := t(ctx, rec)
		if err != nil {
			rec.Release()
			return nil, err
		}
		if out == nil {
			out = rec.NewSlice(0, 0)
			rec.Release()
			return out, nil
		}
		rec.Release()
		rec = out
	}
	return rec, nil
}

// Next returns the next batch of any input, io.EOF once all have ended,
// or the first input's error (naming the input).
func (u *UnionReader) Next(ctx context.Context) (exec.Batch, error) {
	if u.err != nil {
		return exec.Batch{}, u.err
	}
	for u.live > 0 {
		select {
		case a := <-u.ch:
			switch {
			case errors.Is(a.err, io.EOF):
				u.live--
				continue
			case a.err != nil:
				u.err = fmt.Errorf("union input %d: %w", a.input+1, a.err)
				return exec.Batch{}, u.err
			}
			u.offsets[a.input], u.parts[a.input] = a.offs, a.parts
			if u.align != nil {
				u.align.handed(a.input, a.ts, a.hasTs)
			}
			return a.b, nil
		case <-ctx.Done():
			return exec.Batch{}, ctx.Err()
		}
	}
	return exec.Batch{}, io.EOF
}

// Offsets merges the inputs' offsets, each key prefixed by its input.
func (u *UnionReader) Offsets() exec.Offsets {
	out := exec.Offsets{}
	for i, offs := range u.offsets {
		for k, v := range offs {
			out[strconv.Itoa(i)+":"+k] = v
		}
	}
	return out
}

// SplitUnionOffsets splits offsets written by UnionReader.Offsets into
// each of n inputs' own (nil for an input with none, which then starts
// from its startup mode).
func SplitUnionOffsets(offs exec.Offsets, n int) ([]exec.Offsets, error) {
	out := make([]exec.Offsets, n)
	for k, v := range offs {
		is, key, ok := strings.Cut(k, ":")
		i, err := strconv.Atoi(is)
		if !ok || err != nil || i < 0 || i >= n {
			return nil, fmt.Errorf("checkpoint offset %q does not belong to one of the %d inputs of this UNION ALL: was the query changed?", k, n)
		}
		if out[i] == nil {
			out[i] = exec.Offsets{}
		}
		out[i][key] = v
	}
	return out, nil
}

// Partitions lists every input's partitions, renumbered.
func (u *UnionReader) Partitions() []int32 {
	var out []int32
	for i, ps := range u.parts {
		for _, p := range ps {
			out = append(out, UnionPartition(i, p))
		}
	}
	slices.Sort(out)
	return out
}

// CommitOffsets hands each input that commits offsets to a consumer
// group (Kafka) its own part of upTo.
func (u *UnionReader) CommitOffsets(ctx context.Context, upTo exec.Offsets) error {
	parts, err := SplitUnionOffsets(upTo, len(u.inputs))
	if err != nil {
		return err
	}
	for i, in := range u.inputs {
		oc, ok := in.Reader.(exec.OffsetCommitter)
		if !ok || parts[i] == nil {
			continue
		}
		if err := oc.CommitOffsets(ctx, parts[i]); err != nil {
			return fmt.Errorf("union input %d: %w", i+1, err)
		}
	}
	return nil
}

// BadRows adds up the bad rows of the inputs that count them.
func (u *UnionReader) BadRows() (skipped, nulled int64) {
	for _, in := range u.inputs {
		if bc, ok := in.Reader.(exec.BadRowCounter); ok {
			s, n := bc.BadRows()
			skipped, nulled = skipped+s, nulled+n
		}
	}
	return skipped, nulled
}

var (
	_ exec.ProgressReporter = (*UnionReader)(nil)
	_ exec.StatefulReader   = (*UnionReader)(nil)
)

// ReaderState adds up the state of the inputs that keep some.
func (u *UnionReader) ReaderState() (keys int, bytes int64) {
	for _, in := range u.inputs {
		if sr, ok := in.Reader.(exec.StatefulReader); ok {
			k, b := sr.ReaderState()
			keys, bytes = keys+k, bytes+b
		}
	}
	return keys, bytes
}

// BytesRead adds up the bytes read by the inputs that count them.
func (u *UnionReader) BytesRead() int64 {
	var n int64
	for _, in := range u.inputs {
		if pr, ok := in.Reader.(exec.ProgressReporter); ok {
			n += pr.BytesRead()
		}
	}
	return n
}

// Lag merges the inputs' per-partition lag; the keys name the topic, so
// inputs reading different topics do not collide (two inputs reading the
// same partition report the larger lag).
func (u *UnionReader) Lag() map[string]int64 {
	out := map[string]int64{}
	for _, in := range u.inputs {
		if pr, ok := in.Reader.(exec.ProgressReporter); ok {
			for k, v := range pr.Lag() {
				out[k] = max(out[k], v)
			}
		}
	}
	return out
}

// Close stops every input, drains what they had read, and closes their
// readers; idempotent.
func (u *UnionReader) Close() error {
	if u.closed {
		return nil
	}
	u.closed = true
	u.cancel()
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }()
	release := func(a unionArrival) {
		if a.b.Record != nil {
			a.b.Record.Release()
		}
	}
wait:
	for {
		select {
		case a := <-u.ch:
			release(a)
		case <-done:
			break wait
		}
	}
	for len(u.ch) > 0 {
		release(<-u.ch)
	}
	var err error
	for _, in := range u.inputs {
		if cerr := in.Reader.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
