package compile

import (
	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
)

// keepDictionaryKey lets a single-instance GroupAggregate that reads a
// scan's batches directly (a graph source of one scan, no transforms)
// take its string group key dictionary-encoded, as the batch GROUP BY
// does: a Parquet column's dictionary entries are then grouped once per
// dictionary instead of a string being decoded and hashed per row. Only
// the aggregate sees those batches, and it handles dictionaries in
// exactly that column (stream.GroupAggregate.DictionaryKey).
func (b *streamBuilder) keepDictionaryKey(g *stream.GroupAggregate, in *arrow.Schema) {
	if len(b.ports) != 1 || b.ports[0].Node >= 0 {
		return
	}
	si := b.ports[0].Source
	if si < 0 || si >= len(b.sources) || len(b.sources[si].Transforms) > 0 {
		return
	}
	input := -1
	for i, s := range b.readerInputs {
		if s != si {
			continue
		}
		if input >= 0 {
			return // a UNION ALL of several scans
		}
		input = i
	}
	if input < 0 || input >= len(b.inputs) || len(b.inputs[input].trs) > 0 {
		return
	}
	if col, ok := g.DictionaryKey(in); ok {
		b.inputs[input].dict = []int{col}
	}
}

// keepDictionaries asks the opened reader for the input's dictionary
// columns; readers that cannot keep them return plain strings.
func (in streamInput) keepDictionaries(r exec.SourceReader) {
	if dr, ok := r.(exec.DictionaryReader); ok && len(in.dict) > 0 {
		dr.KeepDictionaries(in.dict)
	}
}
