package compile

import (
	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// dictionaryKeyed is a single-instance operator that can take one
// column of its input dictionary-encoded: DictionaryKey names the column
// (ok false: none), and the operator handles a dictionary there and only
// there (stream.GroupAggregate, a lookup stream.Join).
type dictionaryKeyed interface {
	DictionaryKey(input *arrow.Schema) (col int, ok bool)
}

// keepDictionaryKey lets a single-instance GroupAggregate or lookup join
// that reads a scan's batches directly (a graph source of one scan, no
// transforms) take its string key dictionary-encoded, as the batch GROUP
// BY and hash join do: a Parquet column's dictionary entries are then
// grouped or looked up once per dictionary instead of a string being
// decoded and hashed per row. Only that operator sees those batches.
func (b *streamBuilder) keepDictionaryKey(g dictionaryKeyed, in *arrow.Schema) {
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
