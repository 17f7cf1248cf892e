package kafka

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors/format"
)

// jsonValues decodes JSON-object values with connectors/format.
type jsonValues struct{ d *format.JSONDecoder }

func (j jsonValues) append(v []byte) error   { return j.d.Append(v) }
func (j jsonValues) newRecord() arrow.Record { return j.d.NewRecord() }
func (j jsonValues) release()                { j.d.Release() }

func newJSONValues(mem memory.Allocator, schema *arrow.Schema, cols []int) (valueDecoder, error) {
	d, err := format.NewJSONDecoder(mem, schema)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := d.SetColumns(cols); err != nil {
		d.Release()
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return jsonValues{d}, nil
}
