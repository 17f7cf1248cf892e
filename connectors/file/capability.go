package file

import "github.com/sluicesql/sluice/exec"

var (
	_ exec.BadRowCounter     = (*Reader)(nil)
	_ exec.AppendOnlySink    = (*Sink)(nil)
	_ exec.ChangelogSource   = (*Source)(nil)
	_ exec.ConstraintChecker = (*Source)(nil)
)

// ChecksConstraints is true: every format checks the declared NOT NULL
// and UNSIGNED rules as it decodes, naming the file and line (CSV, JSON)
// or row (Parquet) of a row breaking one.
func (s *Source) ChecksConstraints() bool { return true }

// BadRows counts the rows skipped under 'on_error' = 'skip' and the values
// set to NULL under 'on_error' = 'null', over every file read so far.
func (r *Reader) BadRows() (skipped, nulled int64) {
	st := r.Stats()
	return st.Skipped, st.Nulled
}

// Changelog reports whether the files hold changes (format
// 'debezium-json'): every record the readers return has op first.
func (s *Source) Changelog() bool { return s.opts.Format == FormatDebezium }

// AppendOnly is true: files are written once and never updated, so a
// changelog cannot go into them.
func (s *Sink) AppendOnly() bool { return true }
