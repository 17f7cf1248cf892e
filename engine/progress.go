package engine

import "context"

type progressKey struct{}

// WithProgress returns a context under which a streaming statement that
// runs to its end inside Run (INSERT INTO sink … with EMIT, CREATE SINK …
// AS with EMIT) tells how to read its progress: report is called once,
// when the query has started, with a function that snapshots its Stats
// and is safe to call from any goroutine. A server lists such jobs with
// their figures; queries returning Rows have Rows.Stats instead.
func WithProgress(ctx context.Context, report func(stats func() Stats)) context.Context {
	return context.WithValue(ctx, progressKey{}, report)
}

// reportProgress hands sq's Stats to the context's WithProgress callback.
func reportProgress(ctx context.Context, stats func() Stats) {
	if report, ok := ctx.Value(progressKey{}).(func(stats func() Stats)); ok && report != nil {
		report(stats)
	}
}
