package engine

import (
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// declareRules marks the NOT NULL and UNSIGNED columns of a declared
// source schema (exec.MarkNotNull, exec.MarkUnsigned), which the source's
// readers then check.
func declareRules(s *sql.CreateSource, schema *arrow.Schema) *arrow.Schema {
	fields := schema.Fields()
	changed := false
	for i, f := range fields {
		for _, c := range s.Columns {
			if c.Name != f.Name {
				continue
			}
			if c.NotNull {
				fields[i], changed = exec.MarkNotNull(fields[i]), true
			}
			if c.Unsigned {
				fields[i], changed = exec.MarkUnsigned(fields[i]), true
			}
		}
	}
	if !changed {
		return schema
	}
	md := schema.Metadata()
	return arrow.NewSchema(fields, &md)
}

// checkedRules refuses NOT NULL and UNSIGNED columns of a source that does
// not check them as it reads (exec.ConstraintChecker): a declared rule
// nobody enforces would let a NULL through to a query that trusts it.
func checkedRules(s *sql.CreateSource, src exec.Source, opts connectors.Options) error {
	for _, c := range s.Columns {
		if c.HasDefault {
			return sql.Errorf(sql.PlanError, c.DefaultPos, "column %s: DEFAULT applies to in-memory tables (CREATE TABLE without WITH), whose INSERTs may leave columns out: a source reads every column", c.Name)
		}
	}
	if cc, ok := src.(exec.ConstraintChecker); ok && cc.ChecksConstraints() {
		return nil
	}
	for _, c := range s.Columns {
		if !c.NotNull && !c.Unsigned {
			continue
		}
		word := "NOT NULL"
		if c.Unsigned {
			word = "UNSIGNED"
		}
		what := "connector '" + opts["connector"] + "'"
		if f := opts["format"]; f != "" {
			what += " with format '" + f + "'"
		}
		return sql.Errorf(sql.PlanError, c.Pos, "column %s: %s is not checked by %s (the file connector and Kafka's json, csv, debezium-json and upsert-json formats check it on read; in-memory tables on INSERT): drop it here", c.Name, word, what)
	}
	return nil
}

// sameColumns reports whether a and b name the same columns in any order,
// ignoring case.
func sameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y string) bool { return strings.EqualFold(x, y) }) {
			return false
		}
	}
	return true
}

// sinkKeyMode is the mode a sink declared with a PRIMARY KEY is opened
// in: its records are upserts by that key (Flink's upsert sinks). An
// updating result must be keyed by columns the declared key contains, or
// two of its rows could share a key and overwrite each other; an append
// result is upserted by the key the user vouches for (NOT ENFORCED).
func sinkKeyMode(def *planner.SinkDef, schema *arrow.Schema, mode exec.SinkMode, pos sql.Pos) (exec.SinkMode, error) {
	if def == nil || len(def.Key) == 0 {
		return mode, nil
	}
	var names []string
	skip := 0
	if mode.Changelog {
		skip = 1 // the op column
	}
	for _, f := range schema.Fields()[skip:] {
		names = append(names, f.Name)
	}
	keys := make([]int, len(def.Key))
	for i, k := range def.Key {
		j := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, k) })
		if j < 0 {
			return mode, sql.Errorf(sql.PlanError, pos, "sink %s: PRIMARY KEY column %s is not in the result (it has %s)", def.Name, k, strings.Join(names, ", "))
		}
		keys[i] = j + skip
	}
	for _, k := range mode.Keys {
		if !slices.Contains(keys, k) {
			var have []string
			for _, k := range mode.Keys {
				have = append(have, schema.Field(k).Name)
			}
			return mode, sql.Errorf(sql.PlanError, pos, "sink %s: the result updates rows by (%s), which its PRIMARY KEY (%s) does not contain: upserts by that key would overwrite different rows", def.Name, strings.Join(have, ", "), strings.Join(def.Key, ", "))
		}
	}
	mode.Keys = keys
	return mode, nil
}
