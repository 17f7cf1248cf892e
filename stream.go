package sluice

import (
	"context"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

func (db *DB) stream(ctx context.Context, q *sql.Query, qp *planner.QueryPlan, srcs map[string]exec.Source) (*Rows, error) {
	return nil, sql.Errorf(sql.PlanError, q.Emit.Pos, "EMIT is not wired yet")
}

func (db *DB) streamInsert(ctx context.Context, q *sql.Query, qp *planner.QueryPlan, srcs map[string]exec.Source, sink exec.Sink) (*Rows, error) {
	return nil, sql.Errorf(sql.PlanError, q.Emit.Pos, "EMIT is not wired yet")
}
