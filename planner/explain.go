package planner

import "strings"

// Explain renders the logical and the physical plan as indented trees, one
// node per line, children indented by two spaces; the output is
// deterministic so golden tests can compare it.
func Explain(qp *QueryPlan) string {
	var b strings.Builder
	b.WriteString("Logical plan:\n")
	writeLogical(&b, qp.Logical, 1)
	if qp.Stream != nil {
		writeStreaming(&b, qp.Stream)
		return b.String()
	}
	b.WriteString("Physical plan:\n")
	writePhysical(&b, qp.Physical, 1)
	return b.String()
}

// writeStreaming renders a streaming query's physical plan — the nodes
// that run, each with its changelog mode and, on stateful nodes, what
// bounds the state — then the Streaming section: the output mode, the
// emit trigger, event-time settings and warnings.
func writeStreaming(b *strings.Builder, si *StreamInfo) {
	b.WriteString("Physical plan (streaming):\n")
	var walk func(p PhysicalPlan, depth int)
	walk = func(p PhysicalPlan, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString(p.String())
		notes := []string{si.Modes[p].Format(p.Schema())}
		if st, ok := si.Bound(p); ok {
			notes = append(notes, "state: "+st.Text)
		}
		if s, ok := p.(*PhysScan); ok && s.Morsels && s.Bounded {
			// The engine opens every streaming scan so (exec.OpenOrdered);
			// a scan of one piece, or at parallelism 1, reads serially.
			notes = append(notes, "decoded in morsels by up to parallelism goroutines, in scan order")
		}
		b.WriteString(" [" + strings.Join(notes, ", ") + "]\n")
		for _, c := range p.Children() {
			walk(c, depth+1)
		}
	}
	walk(si.Plan, 1)
	b.WriteString("Streaming:\n")
	b.WriteString("  output: " + si.Mode.Format(si.Plan.Schema()) + "\n")
	b.WriteString("  emit: " + si.Emit + "\n")
	var wms []string
	for i, w := range si.Watermarks {
		text := "none"
		if w != nil {
			text = w.Column
			if w.Delay != 0 {
				text += " - " + formatDuration(w.Delay)
			}
		}
		if len(si.Scans) > 1 {
			text = si.Scans[i].Source + ": " + text
		}
		wms = append(wms, text)
	}
	b.WriteString("  watermark: " + strings.Join(wms, ", "))
	if si.Watermark != nil && si.IdleTimeout > 0 {
		b.WriteString(" (idle timeout " + formatDuration(si.IdleTimeout) + ")")
	}
	b.WriteByte('\n')
	if si.Watermark != nil {
		b.WriteString("  late data: ")
		switch si.LatePolicy {
		case LateRoute:
			b.WriteString("route to " + si.LateSink)
		default:
			b.WriteString(si.LatePolicy)
		}
		b.WriteByte('\n')
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
