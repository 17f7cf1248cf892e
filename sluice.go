// Package sluice is the embedded Go API of the sluice streaming SQL engine.
//
// One SQL statement runs in batch, micro-batch or continuous mode depending
// on its EMIT clause; the plan and the operators are the same in all three.
//
//	db, err := sluice.Open(sluice.Config{})
//	if err != nil { … }
//	defer db.Close()
//	err = db.Exec(ctx, `CREATE SOURCE sales WITH (connector = 'file', path = 'sales.csv')`)
//	rows, err := db.Query(ctx, `SELECT category, SUM(value) FROM sales GROUP BY category`)
//	defer rows.Close()
//	for rows.Next() {
//		rec := rows.Record() // an arrow.Record, valid until the next call
//		…
//	}
//
// Sources and sinks are declared with CREATE SOURCE / CREATE SINK and their
// WITH options name a connector: 'file' (CSV, JSON lines, Parquet),
// 'generator', 'kafka' or 'stdout'. Results are Arrow records; a changelog
// (EMIT CHANGES) carries an int8 `op` column first, read as a Change by
// Rows.Op(i): Insert (+I), UpdateBefore (-U), UpdateAfter (+U), Delete (-D).
//
// A query stops when the context given to Query ends, and cancel() and a
// deadline report the same way. A streaming query (EMIT) ends only when
// stopped, so either is a clean stop: Rows.Next returns false and Rows.Err
// is nil (ctx.Err() says which it was); a streaming INSERT (Exec) stopped
// either way returns nil, keeping what its sink committed. A batch query
// stopped before its result is complete reports it: Rows.Err is
// context.Canceled or context.DeadlineExceeded.
//
// The EMIT clause picks the mode: none runs a batch query to completion;
// EMIT EVERY 5s runs micro-batches; EMIT CHANGES streams a changelog;
// EMIT FINAL emits each event-time window once, when the watermark passes
// its end. Rows.Next blocks for a streaming query, and Close or cancelling
// the context stops it; Rows.Stats reports rows in and out, the watermark,
// late rows and state size. Config.CheckpointDir makes streaming queries
// checkpoint state and source offsets and resume from them.
//
// Go code can be a source or a sink: RegisterSource, SourceFromChan (a
// channel of structs) and RegisterSink. sql.Open("sluice", dir) gives batch
// access through database/sql. See the package examples for batch,
// micro-batch, continuous and windowed use, and cmd/sluice for the shell.
package sluice

import (
	"context"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/exec"
)

// Change is the operation of one row of a changelog (Rows.Op): an
// insert, the old and new values of an update, or a delete. Its String
// is Flink's +I, -U, +U, -D.
type Change = exec.Op

// The changes a row of a changelog can be.
const (
	Insert       Change = exec.OpInsert
	UpdateBefore Change = exec.OpUpdateBefore
	UpdateAfter  Change = exec.OpUpdateAfter
	Delete       Change = exec.OpDelete
)

// Config configures a DB; the zero value is usable. Its fields
// (Allocator, BatchSize, BaseDir, CheckpointDir, Log) are documented on
// engine.Config.
type Config = engine.Config

// Rows is the result of a statement: a stream of Arrow records. For a
// changelog (EMIT CHANGES) the first column is the int8 `op` column holding
// exec.Op values. Rows must be closed; Close stops a streaming query.
type Rows = engine.Rows

// Stats is a snapshot of a running streaming query, for status lines and
// EXPLAIN ANALYZE.
type Stats = engine.Stats

// DB is a sluice session: a catalog of sources and sinks and the queries
// run against it. Statements are serialised; a DB is safe for concurrent
// use, and queries run concurrently once started.
type DB struct {
	s *engine.Session
}

// Open creates a session.
func Open(cfg Config) (*DB, error) {
	s, err := engine.Open(cfg)
	if err != nil {
		return nil, err
	}
	return &DB{s: s}, nil
}

// Close drops every source and sink. Queries still running keep their
// own references and end when their Rows are closed.
func (db *DB) Close() error { return db.s.Close() }

// Exec runs every statement of script in order, draining and discarding
// query results (INSERT and CREATE SINK … AS write to their sinks). It
// stops at the first error.
func (db *DB) Exec(ctx context.Context, script string) error { return db.s.Exec(ctx, script) }

// Query runs one statement that returns rows: a SELECT (with or without
// EMIT), EXPLAIN, SHOW or DESCRIBE. ctx bounds the whole query: cancelling
// it stops a streaming query.
func (db *DB) Query(ctx context.Context, query string) (*Rows, error) {
	return db.s.Query(ctx, query)
}

// Run executes one parsed statement (sql.Parse). Statements without a
// result table return Rows with no records and a Message.
func (db *DB) Run(ctx context.Context, st engine.Statement) (*Rows, error) {
	return db.s.Run(ctx, st)
}

// BatchSize is the session's target rows per record.
func (db *DB) BatchSize() int { return db.s.BatchSize() }
