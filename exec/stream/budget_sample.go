package stream

import (
	"time"

	"github.com/sluicesql/sluice/exec"
)

// budgetSampleEvery is how often, at most, a graph node's state is
// measured against the memory budget (see budgetSampler).
const budgetSampleEvery = 100 * time.Millisecond

// StateSizer is a node that keeps a running count of its state's bytes,
// so the graph checks it against the memory budget after every message
// instead of sampling Stats (which walks the state). ok false: this node
// does not know it without a walk (a wrapper around one that may not).
type StateSizer interface {
	StateBytes() (n int64, ok bool)
}

// budgetSampler accounts a node's state to its budget account for nodes
// that do not account it themselves (window aggregates, top-N, joins).
// A StateSizer is checked after every message: it cannot outgrow the
// budget by more than the message added (a sampled join overshot a
// 3.8 MiB limit to 41 MiB at full generator speed). Any other node's
// Stats().Bytes, which walks the state, is measured at most every
// budgetSampleEvery and never more often than 100 times what a measure
// costs (≤ 1% of the query, even with millions of rows held), and always
// before an input's end flushes the state; between samples its state may
// outgrow the budget by what ~100 ms of input adds.
type budgetSampler struct {
	acct *exec.Account
	next time.Time
}

// sample measures n's state when one is due (or force) and fails with
// the account's *exec.MemoryLimitError when it exceeds the budget.
func (s *budgetSampler) sample(n Node, force bool) error {
	if s.acct == nil {
		return nil
	}
	if sz, ok := n.(StateSizer); ok {
		if b, ok := sz.StateBytes(); ok {
			return s.acct.Resize(b)
		}
	}
	now := time.Now()
	if !force && now.Before(s.next) {
		return nil
	}
	st := n.Stats()
	s.next = now.Add(max(budgetSampleEvery, 100*time.Since(now)))
	return s.acct.Resize(st.Bytes)
}

// close gives the account's share back.
func (s *budgetSampler) close() { s.acct.Close() }
