package file

import (
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"
)

// dictStringType is the Arrow type of a string column kept
// dictionary-encoded: int32 indices into the chunk's dictionary page.
var dictStringType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// errNotDictionary means a chunk has a page that is not
// dictionary-encoded (writers fall back to plain pages when the dictionary
// grows too big); the caller then decodes the chunk as plain strings.
var errNotDictionary = errors.New("column chunk is not entirely dictionary-encoded")

// readDictChunk decodes a string column chunk whose pages all index one
// dictionary into an Arrow dictionary array, without materialising a
// string per row: the dictionary page becomes the dictionary and the
// pages' indices are copied in bulk. A grouping consumer then works per
// distinct value instead of per row.
func readDictChunk(mem memory.Allocator, cc parquet.ColumnChunk, pc *pqCol, nrows int64) (arrow.Array, error) {
	pages := cc.Pages()
	defer pages.Close()
	ib := array.NewInt32Builder(mem)
	defer ib.Release()
	ib.Reserve(int(nrows))
	var dict parquet.Dictionary
	var valid []bool
	var dense []int32
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read page: %w", err)
		}
		d := p.Dictionary()
		if d == nil || (dict != nil && d != dict) {
			return nil, errNotDictionary
		}
		dict = d
		data := p.Data()
		idx := data.Int32()
		n := int(p.NumValues())
		if defs := p.DefinitionLevels(); defs != nil && p.NumNulls() > 0 {
			if cap(valid) < n {
				valid, dense = make([]bool, n), make([]int32, n)
			}
			valid, dense = valid[:n], dense[:n]
			j, maxDef := 0, byte(pc.maxDef)
			for i := range valid {
				valid[i] = defs[i] == maxDef
				dense[i] = 0
				if valid[i] {
					dense[i] = idx[j]
					j++
				}
			}
			ib.AppendValues(dense, valid)
			continue
		}
		ib.AppendValues(idx, nil)
	}
	if int64(ib.Len()) != nrows {
		return nil, fmt.Errorf("read %d values for %d rows", ib.Len(), nrows)
	}
	var values arrow.Array
	if dict == nil { // no pages: an empty chunk
		values = array.MakeArrayOfNull(mem, arrow.BinaryTypes.String, 0)
	} else {
		dv := dict.Page().Data()
		buf, offs := dv.ByteArray()
		sb := array.NewStringBuilder(mem)
		defer sb.Release()
		sb.Reserve(len(offs) - 1)
		sb.ReserveData(len(buf))
		for k := 0; k+1 < len(offs); k++ {
			sb.BinaryBuilder.Append(buf[offs[k]:offs[k+1]])
		}
		values = sb.NewArray()
	}
	defer values.Release()
	indices := ib.NewArray()
	defer indices.Release()
	if dict != nil {
		// Indices come from the file: check them once per chunk so a
		// corrupt file is an error, not an out-of-range read later.
		n := int32(values.Len())
		for _, k := range indices.(*array.Int32).Int32Values() {
			if k < 0 || k >= n {
				return nil, fmt.Errorf("dictionary index %d out of range (%d values)", k, n)
			}
		}
	}
	return array.NewDictionaryArray(dictStringType, indices, values), nil
}
