package planner

import "fmt"

// CheckSourceOptions checks a source's late-data, watermark and join
// state options ('late.policy', 'late.sink', 'watermark.idle_timeout',
// 'state.ttl') exactly as a streaming query reads them, so that a bad
// value fails CREATE SOURCE instead of the first streaming query over it.
func CheckSourceOptions(src *SourceDef, cat Catalog) error {
	fail := func(format string, args ...any) error { return fmt.Errorf(format, args...) }
	si := &StreamInfo{LatePolicy: LateDrop}
	if err := si.sourceOptions(src, cat, fail); err != nil {
		return err
	}
	_, err := joinTTL([2]*SourceDef{src, nil}, fail)
	return err
}
