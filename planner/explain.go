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
	return b.String()
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
