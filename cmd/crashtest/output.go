package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// rows is a multiset of output rows, each in a canonical text form (a CSV
// line of a file sink, a record value of a Kafka sink). Exactly-once means
// the crashed run's multiset equals the clean run's: a missing row is
// loss, a row counted more often is a duplicate.
type rows map[string]int

func (r rows) add(s string) { r[s]++ }

// total is the number of rows, duplicates included.
func (r rows) total() int {
	n := 0
	for _, c := range r {
		n += c
	}
	return n
}

// rowCount is one distinct row and how many times it is off.
type rowCount struct {
	Row   string
	Count int
}

// diff is what separates a crashed run's output from the clean run's.
type diff struct {
	Want, Got  int        // total rows
	Missing    []rowCount // rows of the clean run the crashed run lacks (count = how many copies are missing)
	Duplicated []rowCount // rows of the clean run the crashed run has too often (count = extra copies)
	Unexpected []rowCount // rows the clean run never produced (wrong values, e.g. doubled totals)
}

func compare(want, got rows) diff {
	d := diff{Want: want.total(), Got: got.total()}
	for r, w := range want {
		switch g := got[r]; {
		case g < w:
			d.Missing = append(d.Missing, rowCount{r, w - g})
		case g > w:
			d.Duplicated = append(d.Duplicated, rowCount{r, g - w})
		}
	}
	for r, g := range got {
		if _, ok := want[r]; !ok {
			d.Unexpected = append(d.Unexpected, rowCount{r, g})
		}
	}
	for _, l := range [][]rowCount{d.Missing, d.Duplicated, d.Unexpected} {
		sort.Slice(l, func(i, j int) bool { return l[i].Row < l[j].Row })
	}
	return d
}

func (d diff) empty() bool {
	return len(d.Missing) == 0 && len(d.Duplicated) == 0 && len(d.Unexpected) == 0
}

func sum(l []rowCount) int {
	n := 0
	for _, r := range l {
		n += r.Count
	}
	return n
}

// summary is one line: "want 3000 rows, got 2979: 21 missing (21 distinct)".
func (d diff) summary() string {
	if d.empty() {
		return fmt.Sprintf("%d rows, identical", d.Want)
	}
	var parts []string
	if n := sum(d.Missing); n > 0 {
		parts = append(parts, fmt.Sprintf("%d missing (%d distinct)", n, len(d.Missing)))
	}
	if n := sum(d.Duplicated); n > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicated (%d distinct)", n, len(d.Duplicated)))
	}
	if n := sum(d.Unexpected); n > 0 {
		parts = append(parts, fmt.Sprintf("%d unexpected (%d distinct)", n, len(d.Unexpected)))
	}
	return fmt.Sprintf("want %d rows, got %d: %s", d.Want, d.Got, strings.Join(parts, ", "))
}

// details lists up to max examples of each kind, one per line.
func (d diff) details(max int) string {
	var b strings.Builder
	for _, k := range []struct {
		name string
		l    []rowCount
	}{{"missing", d.Missing}, {"duplicated", d.Duplicated}, {"unexpected", d.Unexpected}} {
		for i, r := range k.l {
			if i == max {
				fmt.Fprintf(&b, "  %s: … %d more distinct\n", k.name, len(k.l)-max)
				break
			}
			fmt.Fprintf(&b, "  %s ×%d: %s\n", k.name, r.Count, r.Row)
		}
	}
	return b.String()
}

// isOutputFile says whether a file sink's directory entry is output a
// reader would see: the format's extension, not hidden ('.') and not
// marked pending or temporary ('_', Hadoop's convention). It mirrors the
// file source's directory listing.
func isOutputFile(name, ext string) bool {
	return strings.HasSuffix(name, ext) && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_")
}

// readCSVDir reads every visible CSV file of a file sink's directory:
// each line is a row, the header line of each file is skipped. It also
// returns the names of the files it left out (pending or temporary files
// a crash left behind), for the report.
func readCSVDir(dir string) (rows, []string, error) {
	out := rows{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return out, nil, nil
		}
		return nil, nil, err
	}
	var left []string
	for _, e := range ents {
		if e.IsDir() || !isOutputFile(e.Name(), ".csv") {
			left = append(left, e.Name())
			continue
		}
		if err := readCSVFile(filepath.Join(dir, e.Name()), out); err != nil {
			return nil, nil, err
		}
	}
	return out, left, nil
}

func readCSVFile(path string, out rows) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	first := true
	for sc.Scan() {
		if first {
			first = false // the header
			continue
		}
		if line := sc.Text(); line != "" {
			out.add(line)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// record is one Kafka output record in log order.
type record struct {
	Partition int32
	Offset    int64
	Key       string
	Value     []byte // nil for a tombstone
}

// appendRows is a Kafka sink's output as an append stream: the multiset of
// record values.
func appendRows(recs []record) rows {
	out := rows{}
	for _, r := range recs {
		out.add(string(r.Value))
	}
	return out
}

// upsertRows folds an upsert stream (the changelog of an aggregate, keyed
// by the group) to the table it describes: the last value of every key,
// tombstones deleting. It also checks the stream itself: in every key's
// sequence the count column must grow strictly, so a replay that re-emits
// old totals or a restart that forgot state (counts falling back) shows
// even when the last value happens to be right.
func upsertRows(recs []record, countCol string) (rows, []string) {
	last := map[string][]byte{}
	prev := map[string]int64{}
	var bad []string
	for _, r := range recs {
		if r.Value == nil {
			delete(last, r.Key)
			delete(prev, r.Key)
			continue
		}
		last[r.Key] = r.Value
		if countCol == "" {
			continue
		}
		var m map[string]json.RawMessage
		var n int64
		if err := json.Unmarshal(r.Value, &m); err != nil || json.Unmarshal(m[countCol], &n) != nil {
			bad = append(bad, fmt.Sprintf("partition %d offset %d: value %s has no integer %q", r.Partition, r.Offset, r.Value, countCol))
			continue
		}
		if p, ok := prev[r.Key]; ok && n <= p {
			bad = append(bad, fmt.Sprintf("partition %d offset %d: key %s: %s %d after %d (replayed or forgotten state)", r.Partition, r.Offset, r.Key, countCol, n, p))
		}
		prev[r.Key] = n
	}
	out := rows{}
	for k, v := range last {
		out.add(k + " => " + string(v))
	}
	return out, bad
}
