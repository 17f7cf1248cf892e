package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/engine/compile"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// topExchanges lists the Kafka exchanges of p that no other Kafka
// exchange is above, left to right: the one a keyed operator reads, or
// the two of a join. The exchanges under them belong to the stages
// that write their topic.
func topExchanges(p planner.PhysicalPlan) []*planner.PhysExchange {
	if x, ok := p.(*planner.PhysExchange); ok && x.Kind == planner.ExchangeKafka {
		return []*planner.PhysExchange{x}
	}
	var out []*planner.PhysExchange
	for _, c := range p.Children() {
		out = append(out, topExchanges(c)...)
	}
	return out
}

// stage is the keyed part of a scaled-out query below a chained Kafka
// exchange (a GROUP BY under a GROUP BY, the join under an aggregate):
// a pipeline of its own, reading its own exchange's repartition topic
// with its keyed state per partition in its changelog, whose output,
// the changelog of its operator (op column first), is written to the
// chained exchange's repartition topic. Its changelog saves join that
// topic's transactions (scaledOut.joinSink): each commit holds the
// records written, the state they came from and the offsets read, so
// the hop is exactly once as a sink's is.
type stage struct {
	topic string
	sq    *streamQuery
	w     exec.SinkWriter
	ran   bool
}

// openStage compiles and opens the stage below the chained exchange x
// of si, writing wire rows keyed by keys to x's topic.
func (db *Session) openStage(ctx context.Context, si *planner.StreamInfo, x *planner.PhysExchange, host exec.ExchangeHost, srcs *Catalog,
	env *compile.Env, opts *compile.StreamOptions, identity string, wire *arrow.Schema, keys []string) (st *stage, err error) {
	sub := si.WithNode(si.Plan, x.Input, si.Modes[x.Input])
	stEnv, stOpts := *env, *opts
	stOpts.Instance = suffixed(opts.Instance, "-"+x.Topic)
	so, down, err := db.splitExchange(ctx, sub, srcs, &stEnv, &stOpts)
	if err != nil {
		return nil, err
	}
	s, err := compile.StreamPlan(ctx, stEnv, down, stOpts)
	if err != nil {
		so.close()
		return nil, err
	}
	closeOp := func() {
		if s.Op != nil {
			s.Op.Close()
		}
	}
	if err := s.OpenReader(ctx, db.mem, nil); err != nil {
		closeOp()
		so.close()
		return nil, err
	}
	sq := &streamQuery{s: s, p: s.Pipeline(db.mem), started: time.Now()}
	so.attach(sq)
	st = &stage{topic: x.Topic, sq: sq}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	out := sq.p.OutputSchema(false)
	if out.NumFields() != wire.NumFields() {
		return st, fmt.Errorf("compile: the stage writing %s makes rows of %s, want %s", x.Topic, out, wire)
	}
	for i, f := range out.Fields() {
		if !arrow.TypeEqual(f.Type, wire.Field(i).Type) {
			return st, fmt.Errorf("compile: the stage writing %s makes column %d of %s, want %s", x.Topic, i, f.Type, wire.Field(i).Type)
		}
	}
	sink, err := host.RepartitionSink(x.Topic, keys, fmt.Sprintf("%s-%s", identity, x.Topic))
	if err != nil {
		return st, err
	}
	if st.w, err = sink.Open(ctx, db.mem, wire, exec.SinkMode{}); err != nil {
		return st, fmt.Errorf("repartition topic %s: %w", x.Topic, err)
	}
	joined, err := so.joinSink(ctx, st.w)
	if err != nil {
		return st, fmt.Errorf("repartition topic %s: %w", x.Topic, err)
	}
	if !joined {
		return st, fmt.Errorf("compile: the changelog of the stage writing %s cannot join that topic's transactions", x.Topic)
	}
	w := st.w
	sq.p.Emit = func(ctx context.Context, rec arrow.Record) error {
		rec = withSchemaRetained(rec, wire)
		defer rec.Release()
		return w.Write(ctx, rec)
	}
	sq.p.Commit = func(ctx context.Context, upTo exec.Offsets) error {
		return so.commitJoined(ctx, w, upTo)
	}
	return st, nil
}

// run runs the stage (and the stages and upstream parts below it) until
// ctx ends; the pipeline commits what it wrote at the stop.
func (st *stage) run(ctx context.Context) error {
	st.ran = true
	defer st.w.Close()
	err := st.sq.scale.run(ctx, st.sq.p.RunContinuous)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// close releases a stage that did not run (one that ran released
// itself).
func (st *stage) close() {
	if st.ran {
		return
	}
	st.ran = true
	if st.w != nil {
		st.w.Close()
	}
	st.sq.p.Reader.Close()
	if st.sq.p.Op != nil {
		st.sq.p.Op.Close()
	}
	st.sq.scale.close()
}

// progress merges the stage's per-partition lag and bytes read (its
// reader's and those of the parts below it) into st.
func (st *stage) progress(out *Stats) {
	if pr, ok := st.sq.p.Reader.(exec.ProgressReporter); ok {
		out.BytesRead += pr.BytesRead()
		if out.Lag == nil {
			out.Lag = map[string]int64{}
		}
		for k, v := range pr.Lag() {
			out.Lag[k] = v
		}
	}
	st.sq.scale.progress(out)
}
