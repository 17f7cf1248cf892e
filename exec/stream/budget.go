package stream

import (
	"unsafe"

	"github.com/sluicesql/sluice/exec"
)

// SetBudget makes the aggregate account its state to a (one account per
// operator instance; nil: unlimited): an unbounded GROUP BY then fails
// with an exec.MemoryLimitError naming the operator and the limit rather
// than growing until the process is killed, or, when a's budget spills
// (exec.Budget.WithSpill), moves its cold groups to disk (groupSpill).
// Call it before the first Push.
func (g *GroupAggregate) SetBudget(a *exec.Account) {
	g.acct = a
	g.enableSpill(a.SpillDir())
}

// unsafeValueSize is the bytes of one Value in a slice.
const unsafeValueSize = unsafe.Sizeof(Value{})

var (
	_ StateSizer = (*TemporalJoin)(nil)
	_ StateSizer = (*WindowAggregate)(nil)
	_ StateSizer = (*Parallel)(nil)
	_ StateSizer = (*opNode)(nil)
	_ StateSizer = (*OverAggregate)(nil)
	_ StateSizer = (*OverChangelog)(nil)
)

// StateBytes is what the open windows and sessions hold (StateSizer),
// without walking their groups, so the graph checks a windowed
// aggregate against the memory budget after every message (sampled
// every 100 ms, a fast input overshot the budget by what it read in
// between): per window its accumulators' and group table's own counts
// and its keys' bytes, each key measured once as its group is added;
// the sessions' keys as they open and close (countSession).
func (w *WindowAggregate) StateBytes() (int64, bool) {
	var n int64
	for _, ws := range w.windows {
		for ; ws.measured < len(ws.keys); ws.measured++ {
			ws.keyBytes += valueBytes(ws.keys[ws.measured])
		}
		n += 64 + accsBytes(ws.accs) + ws.keyBytes
		if ws.table != nil {
			n += ws.table.Bytes()
		}
	}
	n += w.sessBytes + accsBytes(w.sess.accs) + int64(cap(w.sess.free))*4
	n += int64(len(w.heap))*16 + int64(len(w.sheap))*16
	return n, true
}

// countSession counts a session opened (sign 1) or gone (-1).
func (w *WindowAggregate) countSession(s *session, sign int) {
	w.nsess += sign
	b := int64(len(s.keyStr)) + 64
	for _, v := range s.key {
		b += valueBytes(v)
	}
	w.sessBytes += int64(sign) * b
}

// StateBytes forwards the operator's running state size (StateSizer).
func (n *opNode) StateBytes() (int64, bool) {
	if s, ok := n.op.(StateSizer); ok {
		return s.StateBytes()
	}
	return 0, false
}

// StateBytes is the instances' running state sizes added up
// (StateSizer), when every instance keeps one.
func (p *Parallel) StateBytes() (int64, bool) { return sumStateBytes(p.insts) }

// sumStateBytes adds up the running state sizes of insts; ok false when
// one of them keeps none.
func sumStateBytes[T any](insts []T) (int64, bool) {
	var n int64
	for _, inst := range insts {
		s, ok := any(inst).(StateSizer)
		if !ok {
			return 0, false
		}
		b, ok := s.StateBytes()
		if !ok {
			return 0, false
		}
		n += b
	}
	return n, true
}

// StateBytes is what the versions and the waiting rows hold (StateSizer),
// from running counts (addVersion, trim, the waiting heap's pushes and
// pops), so a temporal join is checked against the memory budget after
// every message as the other joins are, not sampled.
func (t *TemporalJoin) StateBytes() (int64, bool) { return t.bytes + t.waitB, true }

// waitingBytes is what a waiting stream row holds.
func waitingBytes(r temporalRow) int64 {
	n := 48 + int64(len(r.Key))
	for _, v := range r.Vals {
		n += valueBytes(v)
	}
	return n
}
