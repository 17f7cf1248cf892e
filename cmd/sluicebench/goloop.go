package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/parquet-go/parquet-go"
)

// The hand-written loops are what a Go programmer would write for this
// one query without an engine: a map from category to sum over the
// decoded data. They bound what per-row overhead sluice adds.

// goLoopCSV scans the CSV with bufio.Scanner and strconv.
func goLoopCSV(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	m := make(map[string]int64, numKeys)
	first := true
	for sc.Scan() {
		line := sc.Bytes()
		if first {
			first = false
			continue
		}
		c := bytes.IndexByte(line, ',')
		if c < 0 {
			return nil, fmt.Errorf("bad line %q", line)
		}
		v, err := strconv.ParseInt(string(line[c+1:]), 10, 64)
		if err != nil {
			return nil, err
		}
		m[string(line[:c])] += v
	}
	return m, sc.Err()
}

// goLoopParquet reads the Parquet file with parquet-go's row reader into
// structs.
func goLoopParquet(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := parquet.NewGenericReader[pqRow](f)
	defer r.Close()
	buf := make([]pqRow, 8192)
	m := make(map[string]int64, numKeys)
	for {
		n, err := r.Read(buf)
		for _, x := range buf[:n] {
			m[x.Category] += x.Value
		}
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// goLoopArrow loops over the in-memory Arrow arrays.
func goLoopArrow(recs []arrow.Record) (map[string]int64, error) {
	m := make(map[string]int64, numKeys)
	for _, rec := range recs {
		cats, ok1 := rec.Column(0).(*array.String)
		vals, ok2 := rec.Column(1).(*array.Int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("unexpected column types")
		}
		vs := vals.Int64Values()
		for i, v := range vs {
			m[cats.Value(i)] += v
		}
	}
	return m, nil
}
