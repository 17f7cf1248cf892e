// Package monitor keeps the list of a server's running queries and shows
// it: Prometheus metrics (/metrics) and a small live web page with a stop
// button per query. It lives under engine/ because it reads
// engine.Stats; front ends (the Postgres-wire server, scripts run by
// `sluice serve -f`) register what they run.
package monitor

import (
	"slices"
	"sync"
	"time"

	"github.com/sluicesql/sluice/engine"
)

// Registry is the set of running queries. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	next    int64
	queries map[int64]*entry
}

type entry struct {
	id      int64
	sql     string
	origin  string
	started time.Time
	stats   func() engine.Stats
	stop    func()
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{queries: map[int64]*entry{}} }

// Add lists a running query: its text, where it runs (e.g. "pg session
// 3"), how to read its progress and how to stop it. stats may be called
// from any goroutine at any time until remove returns (engine.Rows.Stats
// is). remove takes it off the list; call it once the query has ended
// and its state is freed. Both stop and remove are idempotent.
func (r *Registry) Add(sql, origin string, stats func() engine.Stats, stop func()) (id int64, remove func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	e := &entry{id: r.next, sql: sql, origin: origin, started: time.Now(), stats: stats, stop: stop}
	r.queries[e.id] = e
	return e.id, func() {
		r.mu.Lock()
		delete(r.queries, e.id)
		r.mu.Unlock()
	}
}

// Query is a snapshot of one running query.
type Query struct {
	ID      int64
	SQL     string
	Origin  string
	Started time.Time
	// Streaming is set for a streaming (EMIT) query, whose Stats are
	// meaningful; a batch query has the zero Stats.
	Streaming bool
	Stats     engine.Stats
}

// List snapshots every running query, oldest first.
func (r *Registry) List() []Query {
	r.mu.Lock()
	entries := make([]*entry, 0, len(r.queries))
	for _, e := range r.queries {
		entries = append(entries, e)
	}
	r.mu.Unlock()
	slices.SortFunc(entries, func(a, b *entry) int { return int(a.id - b.id) })
	out := make([]Query, len(entries))
	for i, e := range entries {
		q := Query{ID: e.id, SQL: e.sql, Origin: e.origin, Started: e.started}
		if e.stats != nil {
			q.Stats = e.stats()
			q.Streaming = !q.Stats.Started.IsZero()
		}
		out[i] = q
	}
	return out
}

// Stop asks the query to stop; it reports whether the query was running.
// The query leaves the list once it has ended.
func (r *Registry) Stop(id int64) bool {
	r.mu.Lock()
	e, ok := r.queries[id]
	r.mu.Unlock()
	if ok && e.stop != nil {
		e.stop()
	}
	return ok
}
