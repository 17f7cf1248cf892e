package engine

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// syncBuffer is a log the pipeline goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A streaming GROUP BY over an unbounded key space warns at start, logs
// its state as it doubles, and fails at the memory limit with an error
// naming the operator and the limit, instead of growing without end.
func TestUnboundedStreamingStateHitsMemoryLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var log syncBuffer
	db, err := Open(Config{Allocator: mem, Log: &log, MemoryLimit: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Unbounded, 20000 distinct event times a second.
	if err := db.Exec(ctx, `CREATE SOURCE g WITH (connector = 'generator', rows_per_second = '20000')`); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT ts, COUNT(*) AS n FROM g GROUP BY ts EMIT CHANGES`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	err = rows.Err()
	rows.Close()
	var mle *exec.MemoryLimitError
	if !errors.As(err, &mle) || !strings.Contains(err.Error(), "GroupAggregate: keys=[ts]") || !strings.Contains(err.Error(), "memory limit of 8.0 MiB") {
		t.Fatalf("got %v, want the memory limit error naming the aggregate", err)
	}
	out := log.String()
	for _, want := range []string{
		"warning: state of GROUP BY ts grows without bound",
		"sluice: unbounded state of GroupAggregate: keys=[ts]",
		"of memory_limit 8.0 MiB)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// The failed query gave its share back.
	if used := db.budgetNow().Used(); used != 0 {
		t.Errorf("%d bytes still accounted", used)
	}
}
