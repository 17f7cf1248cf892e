// Package blackhole is the 'blackhole' sink connector: it discards every
// row, as Flink's blackhole connector does, so a benchmark measures the
// query and not the output. It takes any result, append-only or a
// changelog, and no options.
package blackhole

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

func init() {
	connectors.RegisterSink("blackhole", nil, func(_ connectors.Env, opts connectors.Options) (exec.Sink, error) {
		var extra []string
		for k := range opts {
			if k != "connector" {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			return nil, fmt.Errorf("blackhole: takes no options, got %s", strings.Join(extra, ", "))
		}
		return &Sink{}, nil
	})
}

// Sink discards what it is given and counts the rows.
type Sink struct {
	rows atomic.Int64
}

// Rows is how many rows the sink has discarded, over all its writers.
func (s *Sink) Rows() int64 { return s.rows.Load() }

// Open starts a writer; every schema and mode is accepted.
func (s *Sink) Open(context.Context, memory.Allocator, *arrow.Schema, exec.SinkMode) (exec.SinkWriter, error) {
	return writer{s}, nil
}

type writer struct{ s *Sink }

func (w writer) Write(_ context.Context, rec arrow.Record) error {
	w.s.rows.Add(rec.NumRows())
	return nil
}

func (writer) Commit(context.Context, exec.Offsets) error { return nil }
func (writer) Close() error                               { return nil }
