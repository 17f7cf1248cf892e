package format

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// decodeBatches decodes data (no header) in records of at most batch
// rows the way the file connector does (bulk path first, then one record
// through Split), with column 0 dictionary-encoded when dict is set. It
// returns every row rendered as text, the errors, and the records.
func decodeBatches(t *testing.T, mem memory.Allocator, schema *arrow.Schema, policy ErrorPolicy, data string, batch int, dict bool) ([]string, []string, []arrow.Record) {
	t.Helper()
	d, err := NewCSVDecoder(mem, schema, CSVOptions{Delimiter: ','})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	d.SetOnError(policy)
	if dict {
		if err := d.KeepDictionaries([]int{0}); err != nil {
			t.Fatal(err)
		}
	}
	sp := NewCSVSplitter(',')
	buf := []byte(data)
	var rows, errs []string
	var recs []arrow.Record
	flush := func() {
		rec := d.NewRecord()
		recs = append(recs, rec)
		for i := 0; i < int(rec.NumRows()); i++ {
			s := ""
			for c := 0; c < int(rec.NumCols()); c++ {
				s += rec.Column(c).ValueStr(i) + "|"
			}
			rows = append(rows, s)
		}
	}
	for len(buf) > 0 {
		if d.Len() >= batch {
			flush()
		}
		if n, recs := d.AppendSimple(buf, batch-d.Len()); recs > 0 {
			buf = buf[n:]
			continue
		}
		fields, quoted, n, _, ok, err := sp.Split(buf, true)
		if err != nil || !ok {
			errs = append(errs, fmt.Sprintf("split: %v", err))
			break
		}
		buf = buf[n:]
		if len(fields) == 1 && len(fields[0]) == 0 && !quoted[0] {
			continue
		}
		if err := d.AppendFields(fields, quoted); err != nil {
			errs = append(errs, err.Error())
		}
	}
	flush()
	return rows, errs, recs
}

// TestCSVDictionaryMatchesPlain decodes the same text with and without a
// dictionary-encoded first column at several batch sizes: the values, the
// errors and the policy must not change, only the column's encoding.
func TestCSVDictionaryMatchesPlain(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	var many, distinct strings.Builder
	for i := 0; i < 3000; i++ {
		k := fmt.Sprintf("cat-%d", i%13)
		if i%9 == 0 {
			k = fmt.Sprintf("a long category name %d", i%4) // > 16 bytes
		}
		fmt.Fprintf(&many, "%s,%d\n", k, i*7-900)
	}
	for i := 0; i < MaxCSVDictionary+600; i++ {
		fmt.Fprintf(&distinct, "u%d,%d\n", i, i)
	}
	for _, tc := range []struct {
		name   string
		data   string
		policy ErrorPolicy
	}{
		{"plain", "a,1\nb,2\na,3\n", OnErrorFail},
		{"nulls", "a,1\n,2\nb,\n,\na,5\n", OnErrorFail},
		{"crlf", "a,1\r\nb,2\r\n", OnErrorFail},
		{"cr inside a key", "a\rb,1\nc,2\n", OnErrorFail},
		{"quoted keys", "a,1\n\"a\",2\n\"x,y\",3\nx,4\n", OnErrorFail},
		{"bad value skipped", "a,1\nb,zz\nb,3\n", OnErrorSkip},
		{"bad value nulled", "a,1\nb,zz\nb,3\n", OnErrorNull},
		{"bad value fails", "a,1\nb,zz\nc,3\n", OnErrorFail},
		{"no final newline", "a,1\nbbbbbbbbbbbbbbbbbbbbbbbbbbbb,2", OnErrorFail},
		{"many rows", many.String(), OnErrorFail},
		{"too many distinct values", distinct.String(), OnErrorFail},
	} {
		for _, batch := range []int{1, 3, 1024} {
			if batch == 1 && len(tc.data) > 10000 {
				continue // a record per row: slow under -race, and batch 3 covers it
			}
			t.Run(fmt.Sprintf("%s/batch%d", tc.name, batch), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				want, wantErrs, plainRecs := decodeBatches(t, mem, schema, tc.policy, tc.data, batch, false)
				got, gotErrs, dictRecs := decodeBatches(t, mem, schema, tc.policy, tc.data, batch, true)
				defer func() {
					for _, r := range append(plainRecs, dictRecs...) {
						r.Release()
					}
				}()
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("dictionary rows:\n%v\nplain rows:\n%v", got, want)
				}
				if fmt.Sprint(gotErrs) != fmt.Sprint(wantErrs) {
					t.Errorf("errors %v, want %v", gotErrs, wantErrs)
				}
				for _, r := range plainRecs {
					if r.Column(0).DataType().ID() != arrow.STRING {
						t.Fatalf("plain decoding returned %s", r.Column(0).DataType())
					}
				}
				if r := dictRecs[0]; r.NumRows() > 0 && r.Column(0).DataType().ID() != arrow.DICTIONARY {
					t.Errorf("first dictionary batch is %s", r.Column(0).DataType())
				}
			})
		}
	}
}

// TestCSVDictionaryLastColumn puts the dictionary column last, where a
// delimiter after it means a malformed record, not the next field.
func TestCSVDictionaryLastColumn(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	for _, policy := range []ErrorPolicy{OnErrorSkip, OnErrorNull, OnErrorFail} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		d, err := NewCSVDecoder(mem, schema, CSVOptions{Delimiter: ','})
		if err != nil {
			t.Fatal(err)
		}
		d.fieldPos = []int{1, 0} // the file holds v,k
		d.remap()
		d.SetOnError(policy)
		if err := d.KeepDictionaries([]int{0}); err != nil {
			t.Fatal(err)
		}
		buf := []byte("1,abcdefghijklmnopqrstuvwxyz\n2,b,c,ddddddddddddddddddddd\n3,a\n")
		n, recs := d.AppendSimple(buf, 100)
		if recs != 1 || string(buf[n:n+2]) != "2," {
			t.Errorf("policy %d: bulk path took %d records and stopped at %q, want 1 before the bad one", policy, recs, buf[n:])
		}
		rec := d.NewRecord()
		if rec.NumRows() != 1 || rec.Column(0).ValueStr(0) != "abcdefghijklmnopqrstuvwxyz" {
			t.Errorf("policy %d: got %v", policy, rec)
		}
		rec.Release()
		d.Release()
		mem.AssertSize(t, 0)
	}
}

// TestCSVDictionarySharedAndCapped checks that batches adding no values
// share one dictionary (what lets GROUP BY map each value once), and that
// a column past MaxCSVDictionary distinct values turns plain.
func TestCSVDictionarySharedAndCapped(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	var b strings.Builder
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "k%d\n", i%4)
	}
	for i := 0; i < MaxCSVDictionary+10; i++ {
		fmt.Fprintf(&b, "new%d\n", i)
	}
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "k%d\n", i%4)
	}
	_, errs, recs := decodeBatches(t, mem, schema, OnErrorFail, b.String(), 100, true)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	dictOf := func(r arrow.Record) arrow.ArrayData {
		d, ok := r.Column(0).(*array.Dictionary)
		if !ok {
			return nil
		}
		return d.Data().Dictionary()
	}
	first := dictOf(recs[0])
	if first == nil || first.Len() != 4 {
		t.Fatalf("first batch: %v", recs[0].Column(0).DataType())
	}
	for i := 1; i < 4; i++ {
		if dictOf(recs[i]) != first {
			t.Errorf("batch %d has another dictionary though no value is new", i)
		}
	}
	last := recs[len(recs)-1]
	if last.NumRows() == 0 {
		last = recs[len(recs)-2]
	}
	if last.Column(0).DataType().ID() != arrow.STRING {
		t.Errorf("after %d distinct values the column is still %s", MaxCSVDictionary+10, last.Column(0).DataType())
	}
}
