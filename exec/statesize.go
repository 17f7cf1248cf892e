package exec

import "github.com/apache/arrow/go/v17/arrow"

// Estimates of the memory operator state holds, for the Budget. They
// count the slices the tables and accumulators allocate (capacity, since
// that is what the heap holds), not Go's per-object overhead; close
// enough to stop a query well before the machine runs out of memory,
// cheap enough to run after every batch (no walk over the groups).

func sliceBytes[T any](s []T, elem int64) int64 { return int64(cap(s)) * elem }

func (g *intGrouper) bytes() int64 {
	return sliceBytes(g.keys, 8) + sliceBytes(g.slots, 4)
}

func (t *bytesTable) bytes() int64 {
	return sliceBytes(t.slots, 16) + sliceBytes(t.arena, 1) + sliceBytes(t.offs, 8) + sliceBytes(t.hashes, 8)
}

func (g *stringGrouper) bytes() int64 {
	n := sliceBytes(g.short.slots, 24) + sliceBytes(g.longIDs, 4)
	if g.long != nil {
		n += g.long.bytes()
	}
	return n
}

func (g *dictGrouper) bytes() int64 {
	return g.inner.bytes() + sliceBytes(g.pos, 4) + sliceBytes(g.small, 4)
}

func (g *rowGrouper) bytes() int64 { return g.table.bytes() + sliceBytes(g.buf, 1) }

// Bytes estimates the heap the table holds: its hash slots and the key
// bytes it copied.
func (t *GroupTable) Bytes() int64 { return t.g.bytes() }

// Bytes estimates the state of the accumulator.
func (a *Accumulator) Bytes() int64 { return a.st.Bytes() }

// SetBudget makes the aggregate account its groups to a (one account per
// operator instance; nil: unlimited). Past the budget the query fails
// with a MemoryLimitError naming the account's operator. Call it before
// Open.
func (h *HashAggregate) SetBudget(a *Account) { h.acct = a }

// account tells the budget what the groups hold after a batch: the key
// table, the key values kept for the output, the accumulators.
func (h *HashAggregate) account() error {
	if h.acct == nil {
		return nil
	}
	n := h.keyMem
	if h.table != nil {
		n += h.table.Bytes()
	}
	for _, a := range h.accs {
		n += a.Bytes()
	}
	return h.acct.Resize(n)
}

// arrayBytes is the size of an array's buffers, children and dictionary
// included.
func arrayBytes(a arrow.Array) int64 { return dataBytes(a.Data()) }

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	if d.DataType().ID() == arrow.DICTIONARY {
		n += dataBytes(d.Dictionary())
	}
	return n
}

// recordBytes is the size of a record's column buffers.
func recordBytes(r arrow.Record) int64 {
	var n int64
	for _, c := range r.Columns() {
		n += arrayBytes(c)
	}
	return n
}

// SetBudget makes the sort account the rows it buffers to a (nil:
// unlimited); past the budget it fails naming the account's operator.
func (s *Sort) SetBudget(a *Account) { s.acct = a }

// SetBudget makes the join account its build side (the right input's rows
// and their hash table) to a (nil: unlimited).
func (j *HashJoin) SetBudget(a *Account) { j.acct = a }
