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
// (capacity), which grow with the key space, without walking the groups;
// the value sets of MIN/MAX under retraction and COUNT(DISTINCT) are not
// counted (they are bounded by the input's distinct values per group).
func (g *GroupAggregate) account() error {
	if g.acct == nil {
		return nil
	}
	st := &g.st
	n := g.table.Bytes() +
		int64(cap(st.keys))*int64(unsafe.Sizeof(Value{})) +
		int64(cap(st.rows))*8 + int64(cap(st.live)) + int64(cap(st.epoch))*8
	for j := range st.cols {
		c := &st.cols[j]
		n += int64(cap(c.n))*8 + int64(cap(c.i))*8 + int64(cap(c.f))*8 + int64(cap(c.gen))*int64(unsafe.Sizeof(acc{}))
	}
	return g.acct.Resize(n)
}
