package exec

import "context"

// CheckpointID numbers the checkpoints of one query, from 1, in the order
// they are taken; a restarted query continues the numbering of the
// checkpoint it resumed from.
type CheckpointID int64

// TwoPhaseWriter is a SinkWriter that takes part in checkpoints by
// two-phase commit, as Flink's TwoPhaseCommittingSink does, so a query
// killed at any moment and restarted from its checkpoint directory
// neither loses nor duplicates output.
//
// On a checkpoint barrier the driver calls PreCommit, then persists the
// checkpoint (operator state, source offsets and the handle PreCommit
// returned) atomically, then calls CommitPending with the handle. A crash
// before the checkpoint is persisted leaves pending output that no
// checkpoint covers; a crash after it leaves output that the checkpoint
// says is pre-committed. Recover, on restart, finishes the second and
// discards the first.
//
// The driver calls the methods from one goroutine, and never calls Write
// between a PreCommit and its CommitPending. Commit (of SinkWriter) stays
// the one-step commit for queries without a checkpoint directory.
type TwoPhaseWriter interface {
	SinkWriter
	// PreCommit ends the output written since the last PreCommit or
	// Commit as the output of checkpoint id, covering the source
	// position upTo: durable (written and fsynced, or flushed to the
	// broker) but not yet visible to readers. It returns a non-nil
	// handle naming that pending output — file names, a transactional id
	// and producer epoch — which the checkpoint stores, so that
	// CommitPending or Recover can publish it in this or a later process.
	// With nothing written the handle still describes the sink's state.
	PreCommit(ctx context.Context, id CheckpointID, upTo Offsets) ([]byte, error)
	// CommitPending publishes the output a PreCommit handle names, once
	// the checkpoint holding the handle is durable. It is idempotent:
	// committing a handle whose output is already published does
	// nothing, so a restart may commit the handle again.
	CommitPending(ctx context.Context, handle []byte) error
	// Recover runs once, after the writer is opened and before the first
	// Write, with the handle stored in the checkpoint the query resumes
	// from, or nil when it starts without one. It commits that handle as
	// CommitPending does, and discards every pending output of this sink
	// that the handle does not cover (what a crash left between a
	// PreCommit and its checkpoint). Where it can, it also removes output
	// committed by checkpoints newer than the one restored (when a
	// corrupted newest checkpoint made the query fall back), so that the
	// recomputed interval is not written twice.
	Recover(ctx context.Context, handle []byte) error
}
