package planner

import "strings"

// Explain renders the logical and the physical plan as indented trees, one
// node per line, children indented by two spaces; the output is
// deterministic so golden tests can compare it.
func Explain(qp *QueryPlan) string {
	var b strings.Builder
	b.WriteString("Logical plan:\n")
	writeLogical(&b, qp.Logical, 1)
	b.WriteString("Physical plan:\n")
	writePhysical(&b, qp.Physical, 1)
	if qp.Stream != nil {
		writeStreaming(&b, qp.Physical, qp.Stream)
	}
	return b.String()
}

// writeStreaming renders the Streaming section: the physical tree with
// each node's changelog mode (and, on the stateful node, its operator and
// state), then the emit trigger, event-time settings and warnings.
func writeStreaming(b *strings.Builder, root PhysicalPlan, si *StreamInfo) {
	b.WriteString("Streaming:\n")
	var walk func(p PhysicalPlan, depth int)
	walk = func(p PhysicalPlan, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString(p.String())
		notes := []string{string(si.Nodes[p])}
		if p == si.Stateful {
			notes = append(notes, si.Operator)
			if si.AppendWindows {
				notes = append(notes, "append windows")
			}
			notes = append(notes, "state: "+si.State)
		}
		b.WriteString(" [" + strings.Join(notes, ", ") + "]\n")
		for _, c := range p.Children() {
			walk(c, depth+1)
		}
	}
	walk(root, 1)
	b.WriteString("  output: " + string(si.Mode) + "\n")
	b.WriteString("  emit: " + si.Emit + "\n")
	if w := si.Watermark; w != nil {
		b.WriteString("  watermark: " + w.Column)
		if w.Delay != 0 {
			b.WriteString(" - " + formatDuration(w.Delay))
		}
		if si.IdleTimeout > 0 {
			b.WriteString(" (idle timeout " + formatDuration(si.IdleTimeout) + ")")
		}
		b.WriteString("\n  late data: ")
		switch si.LatePolicy {
		case LateRoute:
			b.WriteString("route to " + si.LateSink)
		default:
			b.WriteString(si.LatePolicy)
		}
		b.WriteByte('\n')
	} else {
		b.WriteString("  watermark: none\n")
	}
	for _, w := range si.Warnings {
		b.WriteString("  warning: " + w + "\n")
	}
}

func writeLogical(b *strings.Builder, p Plan, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
	b.WriteString(p.String())
	b.WriteByte('\n')
	for _, c := range p.Children() {
		writeLogical(b, c, depth+1)
	}
}

func writePhysical(b *strings.Builder, p PhysicalPlan, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
	b.WriteString(p.String())
	b.WriteByte('\n')
	for _, c := range p.Children() {
		writePhysical(b, c, depth+1)
	}
}

// FormatPlan renders one logical plan tree (without the section header).
func FormatPlan(p Plan) string {
	var b strings.Builder
	writeLogical(&b, p, 0)
	return b.String()
}
