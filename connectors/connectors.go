// Package connectors opens sources and sinks by their WITH options:
// connector = 'file' | 'generator' | 'kafka' | 'stdout'. Each connector
// lives in its own subpackage; this package only dispatches.
package connectors

import (
	"fmt"

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

type registered[F any] struct {
	f    F
	opts []Option
}

var (
	sources = map[string]registered[SourceFactory]{}
	sinks   = map[string]registered[SinkFactory]{}
)

// RegisterSource makes a source connector available under name, reading
// the declared options (besides SourceOptions, which every source takes).
// It is called from the connector packages' init functions.
func RegisterSource(name string, opts []Option, f SourceFactory) {
	sources[name] = registered[SourceFactory]{f, opts}
}

// RegisterSink makes a sink connector available under name, reading the
// declared options (besides SinkOptions).
func RegisterSink(name string, opts []Option, f SinkFactory) {
	sinks[name] = registered[SinkFactory]{f, opts}
}

// NewSource opens the source the options describe, after checking every
// option against the connector's declarations (Check).
func NewSource(env Env, opts Options, declared *arrow.Schema) (exec.Source, error) {
	name := opts["connector"]
	r, ok := sources[name]
	if !ok {
		return nil, unknownConnector(name, KindSource)
	}
	if err := Check(name, KindSource, opts); err != nil {
		return nil, err
	}
	return r.f(env, opts, declared)
}

// NewSink opens the sink the options describe, after checking every
// option against the connector's declarations (Check).
func NewSink(env Env, opts Options) (exec.Sink, error) {
	name := opts["connector"]
	r, ok := sinks[name]
	if !ok {
		return nil, unknownConnector(name, KindSink)
	}
	if err := Check(name, KindSink, opts); err != nil {
		return nil, err
	}
	return r.f(env, opts)
}

func unknownConnector(name string, kind Kind) error {
	have := Connectors(kind)
	msg := fmt.Sprintf("unknown %s connector %q", kind, name)
	if name == "" {
		msg = fmt.Sprintf("the 'connector' option is required for a %s", kind)
	} else if s := Suggest(name, have); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return &OptionError{Option: "connector", Msg: msg + " (have " + quoteList(have) + ")"}
}
