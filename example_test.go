package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice"
)

// salesDir writes a small CSV file into a new temporary directory, as the
// data a CREATE SOURCE reads.
func salesDir() string {
	dir, err := os.MkdirTemp("", "sluice-example")
	if err != nil {
		log.Fatal(err)
	}
	csv := "id,category,value\n1,books,12\n2,games,30\n3,books,7\n4,music,5\n"
	if err := os.WriteFile(filepath.Join(dir, "sales.csv"), []byte(csv), 0o644); err != nil {
		log.Fatal(err)
	}
	return dir
}

// Open a session whose relative paths resolve under a directory, declare a
// source over a CSV file and query it.
func ExampleOpen() {
	dir := salesDir()
	defer os.RemoveAll(dir)
	db, err := sluice.Open(sluice.Config{BaseDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE SOURCE sales WITH (connector = 'file', path = 'sales.csv')`); err != nil {
		log.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT COUNT(*) AS n, SUM(value) AS total FROM sales`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	printRows(rows)
	// Output:
	// 4 54
}

// Exec runs a script in order: here it declares a source and a file
// sink, and an INSERT writes a query's result into the sink.
func ExampleDB_Exec() {
	dir := salesDir()
	defer os.RemoveAll(dir)
	db, err := sluice.Open(sluice.Config{BaseDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	err = db.Exec(context.Background(), `
		CREATE SOURCE sales WITH (connector = 'file', path = 'sales.csv');
		CREATE SINK totals WITH (connector = 'file', path = 'totals.csv');
		INSERT INTO totals SELECT category, SUM(value) AS total FROM sales GROUP BY category ORDER BY category;`)
	if err != nil {
		log.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "totals.csv"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	// Output:
	// category,total
	// books,19
	// games,30
	// music,5
}

// Query returns the result as Arrow records; an error names the place in
// the SQL text.
func ExampleDB_Query() {
	dir := salesDir()
	defer os.RemoveAll(dir)
	db, err := sluice.Open(sluice.Config{BaseDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE SOURCE sales WITH (connector = 'file', path = 'sales.csv')`); err != nil {
		log.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT id, value FROM sales WHERE category = 'books' ORDER BY id`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	fmt.Println(rows.Schema().Field(0).Name, rows.Schema().Field(1).Name)
	printRows(rows)
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	_, err = db.Query(ctx, `SELECT valu FROM sales`)
	fmt.Println(err)
	// Output:
	// id value
	// 1 12
	// 3 7
	// line 1:8: unknown column "valu" (did you mean "value"?)
}

// Op reads the change of each row of a changelog (EMIT CHANGES): an
// aggregate's new key is an Insert, a changed one an UpdateBefore with
// its old values and an UpdateAfter with its new ones. Here each sale is
// sent only once the change the one before made has been read, so every
// change shows.
func ExampleRows_Op() {
	db, err := sluice.Open(sluice.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ch, next := make(chan Sale), make(chan struct{}, 1)
	go func() {
		defer close(ch)
		for _, v := range []int64{12, 7, 1} {
			ch <- Sale{Category: "books", Value: v}
			<-next
		}
	}()
	schema, fn, err := sluice.SourceFromChan(ch)
	if err != nil {
		log.Fatal(err)
	}
	if err := db.RegisterSource("sales", schema, fn); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := db.Query(ctx, `SELECT category, COUNT(*) AS n, SUM(value) AS total FROM sales GROUP BY category EMIT CHANGES`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rec := range rows.Records() {
		for r := 0; r < int(rec.NumRows()); r++ {
			// Column 0 is the op column; the query's columns follow.
			fmt.Println(rows.Op(r), rec.Column(1).ValueStr(r), rec.Column(2).ValueStr(r), rec.Column(3).ValueStr(r))
			if op := rows.Op(r); op == sluice.Insert || op == sluice.UpdateAfter {
				next <- struct{}{}
			}
		}
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// +I books 1 12
	// -U books 1 12
	// +U books 2 19
	// -U books 2 19
	// +U books 3 20
}

// A streaming query runs until its context ends, and cancel() and a
// deadline stop it the same way: cleanly, Next returns false and Err is
// nil; ctx.Err() tells them apart. (A batch query cut short by its context
// is incomplete, and Err reports the context's error.)
func ExampleRows_Err() {
	db, err := sluice.Open(sluice.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP) WITH (connector = 'generator')`); err != nil {
		log.Fatal(err)
	}
	run := func(ctx context.Context, stop func()) error {
		rows, err := db.Query(ctx, `SELECT category, value FROM g EMIT CHANGES`)
		if err != nil {
			log.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			stop() // after the first record
		}
		return rows.Err()
	}
	cctx, cancel := context.WithCancel(ctx)
	fmt.Println("cancel:", run(cctx, cancel))
	dctx, done := context.WithTimeout(ctx, 100*time.Millisecond)
	defer done()
	fmt.Println("deadline:", run(dctx, func() {}), errors.Is(dctx.Err(), context.DeadlineExceeded))
	// Output:
	// cancel: <nil>
	// deadline: <nil> true
}

// RegisterSource makes a Go function a source: it is called with a
// function to emit records and returns when it has no more.
func ExampleDB_RegisterSource() {
	db, err := sluice.Open(sluice.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	type reading struct {
		Sensor string
		Temp   float64
	}
	ch := make(chan reading, 3)
	ch <- reading{"a", 20.5}
	ch <- reading{"b", 18}
	ch <- reading{"a", 21.5}
	close(ch)
	// SourceFromChan derives the schema from the struct's fields (names
	// lower-cased) and reads the channel until it is closed.
	schema, fn, err := sluice.SourceFromChan(ch)
	if err != nil {
		log.Fatal(err)
	}
	if err := db.RegisterSource("readings", schema, fn); err != nil {
		log.Fatal(err)
	}
	rows, err := db.Query(context.Background(), `SELECT sensor, AVG(temp) AS avg_temp FROM readings GROUP BY sensor ORDER BY sensor`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	printRows(rows)
	// Output:
	// a 21
	// b 18
}

// RegisterSink makes a Go function a sink: INSERT INTO and CREATE SINK …
// AS hand it each record of the result.
func ExampleDB_RegisterSink() {
	dir := salesDir()
	defer os.RemoveAll(dir)
	db, err := sluice.Open(sluice.Config{BaseDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var got []string
	err = db.RegisterSink("collect", func(_ context.Context, rec arrow.Record) error {
		for r := 0; r < int(rec.NumRows()); r++ {
			got = append(got, rec.Column(0).ValueStr(r))
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	err = db.Exec(context.Background(), `
		CREATE SOURCE sales WITH (connector = 'file', path = 'sales.csv');
		INSERT INTO collect SELECT category FROM sales WHERE value > 6 ORDER BY value DESC;`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(got, ", "))
	// Output:
	// games, books, books
}
