// Package connectors opens sources and sinks by their WITH options:
// connector = 'file' | 'generator' | 'kafka' | 'stdout'. Each connector
// lives in its own subpackage; this package only dispatches.
package connectors

import (
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/connectors/sandbox"
	"github.com/sluicesql/sluice/exec"
)

// Options are WITH options with lower-cased keys.
type Options map[string]string

// Env is what the session gives every connector besides its WITH
// options: settings a SQL user must not be able to change from a WITH
// clause. The zero Env restricts nothing.
type Env struct {
	// Files confines every file a connector reads or writes (nil: any).
	// A connector that takes a file path checks it with Files.Check,
	// naming the option.
	Files *sandbox.Root
}

// SourceFactory opens a source. declared is the schema written in CREATE
// SOURCE, or nil when the connector must infer it from the data.
type SourceFactory func(env Env, opts Options, declared *arrow.Schema) (exec.Source, error)

// SinkFactory opens a sink from its options.
type SinkFactory func(env Env, opts Options) (exec.Sink, error)

var (
	sources = map[string]SourceFactory{}
	sinks   = map[string]SinkFactory{}
)

// RegisterSource makes a source connector available under name. It is
// called from the connector packages' init functions.
func RegisterSource(name string, f SourceFactory) { sources[name] = f }

// RegisterSink makes a sink connector available under name.
func RegisterSink(name string, f SinkFactory) { sinks[name] = f }

// NewSource opens the source the options describe.
func NewSource(env Env, opts Options, declared *arrow.Schema) (exec.Source, error) {
	name := opts["connector"]
	f, ok := sources[name]
	if !ok {
		return nil, fmt.Errorf("unknown source connector %q (have %s)", name, keys(sources))
	}
	return f(env, opts, declared)
}

// NewSink opens the sink the options describe.
func NewSink(env Env, opts Options) (exec.Sink, error) {
	name := opts["connector"]
	f, ok := sinks[name]
	if !ok {
		return nil, fmt.Errorf("unknown sink connector %q (have %s)", name, keys(sinks))
	}
	return f(env, opts)
}

func keys[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, "'"+k+"'")
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
