package engine

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// opsTimeout bounds the broker calls of SHOW INTERNAL TOPICS and DROP
// SOURCE … CASCADE.
const opsTimeout = 30 * time.Second

// exchangeHostOf returns the exchange host and group of a scaled-out
// source entry, nil when it has none.
func exchangeHostOf(e *SourceEntry) (exec.ExchangeHost, string) {
	if e == nil || e.Def.ScaleOut == nil {
		return nil, ""
	}
	h, ok := e.Source.(exec.ExchangeHost)
	if !ok {
		return nil, ""
	}
	return h, e.Def.ScaleOut.Group
}

// internalTopicsOf lists the internal topics of the queries run by the
// scaled-out source's group, with their partition counts.
func internalTopicsOf(ctx context.Context, h exec.ExchangeHost, group string) (map[string]int, error) {
	all, err := h.InternalTopics(ctx, "_sluice-")
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for t, n := range all {
		if _, _, ok := planner.InternalTopicOf(group, t); ok {
			out[t] = n
		}
	}
	return out, nil
}

// showInternalTopics lists, per scaled-out source, the repartition and
// changelog topics its group's queries made: source, group, topic, role,
// operator, partitions.
func (db *Session) showInternalTopics(ctx context.Context) (*Rows, error) {
	db.mu.Lock()
	var entries []*SourceEntry
	for _, d := range db.cat.Sources() {
		if e, ok := db.cat.Source(d.Name); ok && d.ScaleOut != nil {
			entries = append(entries, e)
		}
	}
	db.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	var rows [][]string
	for _, e := range entries {
		h, group := exchangeHostOf(e)
		if h == nil {
			continue
		}
		topics, err := internalTopicsOf(ctx, h, group)
		if err != nil {
			return nil, execError(fmt.Errorf("source %s: %w", e.Def.Name, err))
		}
		names := make([]string, 0, len(topics))
		for t := range topics {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			op, role, _ := planner.InternalTopicOf(group, t)
			rows = append(rows, []string{e.Def.Name, group, t, role, op, strconv.Itoa(topics[t])})
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.textRows([]string{"source", "group", "topic", "role", "operator", "partitions"}, rows)
}

// dropInternalTopics deletes the internal topics of the source's group
// (DROP SOURCE … CASCADE); it returns how many it deleted.
func dropInternalTopics(ctx context.Context, e *SourceEntry, pos sql.Pos) (int, error) {
	h, group := exchangeHostOf(e)
	if h == nil {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	topics, err := internalTopicsOf(ctx, h, group)
	if err == nil && len(topics) > 0 {
		names := make([]string, 0, len(topics))
		for t := range topics {
			names = append(names, t)
		}
		sort.Strings(names)
		err = h.DeleteInternalTopics(ctx, names...)
	}
	if err != nil {
		return 0, sql.Errorf(sql.ExecError, pos, "DROP SOURCE %s CASCADE: %v (the source is kept)", e.Def.Name, err)
	}
	return len(topics), nil
}

// progress merges the stages' and upstream parts' per-partition lag and bytes read into
// st (the downstream reader's are already there).
func (so *scaledOut) progress(st *Stats) {
	for _, s := range so.stages {
		s.progress(st)
	}
	for _, up := range so.ups {
		pr, ok := up.reader.(exec.ProgressReporter)
		if !ok {
			continue
		}
		st.BytesRead += pr.BytesRead()
		if st.Lag == nil {
			st.Lag = map[string]int64{}
		}
		for k, v := range pr.Lag() {
			st.Lag[k] = v
		}
	}
}
