package stream

import (
	"time"

	"github.com/sluicesql/sluice/exec"
)

// budgetSampleEvery is how often, at most, a graph node's state is
// measured against the memory budget (see budgetSampler).
const budgetSampleEvery = 100 * time.Millisecond

// budgetSampler accounts a node's state to its budget account for nodes
// that do not account it themselves (window aggregates, top-N, joins):
// their Stats().Bytes, which walks the state, measured at most every
// budgetSampleEvery and never more often than 100 times what a measure
// costs (≤ 1% of the query, even with millions of rows held), and always
// before an input's end flushes the state. Between samples the state may
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
