package stream

import (
	"unsafe"

	"github.com/sluicesql/sluice/exec"
)

// SetBudget makes the aggregate account its state to a (one account per
// operator instance; nil: unlimited): an unbounded GROUP BY then fails
// with an exec.MemoryLimitError naming the operator and the limit rather
// than growing until the process is killed. Call it before the first Push.
func (g *GroupAggregate) SetBudget(a *exec.Account) { g.acct = a }

// account tells the budget what the state holds after the batch's new
// groups were added. It counts the group table and the per-slot slices
// (capacity), which grow with the key space, and the accumulators' own
// estimate (which includes the value sets of MIN/MAX under retraction and
// DISTINCT), without walking the groups.
func (g *GroupAggregate) account() error {
	if g.acct == nil {
		return nil
	}
	st := &g.st
	n := g.table.Bytes() +
		int64(cap(st.keys))*int64(unsafe.Sizeof(Value{})) +
		int64(cap(st.rows))*8 + int64(cap(st.live)) + int64(cap(st.epoch))*8
	n += accsBytes(st.accs)
	return g.acct.Resize(n)
}
