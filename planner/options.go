package planner

import "fmt"

// CheckSourceOptions checks a source's late-data and watermark options
// ('late.policy', 'late.sink', 'watermark.idle_timeout') exactly as a
// streaming query reads them, so that a bad value fails CREATE SOURCE
// instead of the first streaming query over it.
func CheckSourceOptions(src *SourceDef, cat Catalog) error {
	si := &StreamInfo{LatePolicy: LateDrop}
	return si.sourceOptions(src, cat, func(format string, args ...any) error { return fmt.Errorf(format, args...) })
}
