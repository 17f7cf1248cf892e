package engine

import "github.com/sluicesql/sluice/exec"

// The engine's view of the capabilities connectors declare (exec's named
// interfaces): each question is answered here once.

// boundedAtStart reports whether a batch scan of an unbounded source ends
// (exec.BoundedAtStart).
func boundedAtStart(src exec.Source) bool {
	b, ok := src.(exec.BoundedAtStart)
	return ok && b.BoundedAtStart()
}

// appendOnly reports whether a sink only appends rows
// (exec.AppendOnlySink), which the planner records on its definition.
func appendOnly(sink exec.Sink) bool {
	a, ok := sink.(exec.AppendOnlySink)
	return ok && a.AppendOnly()
}
