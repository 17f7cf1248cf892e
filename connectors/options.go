package connectors

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
)

// Option declares one WITH option a connector reads: the one place its
// name, type, default, allowed values and meaning are written down.
// CREATE SOURCE/SINK refuses any option no declaration names, SHOW
// OPTIONS lists the declarations, and the README's option reference is
// generated from them (connectors/all's test keeps it current).
type Option struct {
	// Name is the key in WITH (…), lower case.
	Name string
	// Aliases are other accepted spellings of the same option (Kafka's
	// 'properties.' forms).
	Aliases []string
	// Type is what the value must be: string, bool, integer, number,
	// size, duration, interval, timestamp, list or enum.
	Type string
	// Default is the value used when the option is absent, as the user
	// would write it; empty when there is none.
	Default string
	// Values are the accepted values of an enum (compared case-insensitively).
	Values []string
	// Doc is a one-line description.
	Doc string
}

// Kind is which side of a connector options belong to.
type Kind string

// The two kinds of connector.
const (
	KindSource Kind = "source"
	KindSink   Kind = "sink"
)

// SourceOptions are read by the engine for every source, whatever its
// connector: late-data handling, watermark idleness and join state
// lifetime (the planner interprets them; their values are checked at
// CREATE time too).
var SourceOptions = []Option{
	{Name: "connector", Type: "string", Doc: "the connector: file, datagen, generator, kafka or nexmark"},
	{Name: "late.policy", Type: "enum", Default: "drop", Values: []string{"drop", "error"}, Doc: "what a row behind the watermark does: dropped and counted, or fails the query"},
	{Name: "late.sink", Type: "string", Doc: "a sink that receives late rows instead of dropping them"},
	{Name: "watermark.idle_timeout", Type: "interval", Doc: "after this long without rows a partition stops holding the watermark back ('5 seconds')"},
	{Name: "state.ttl", Type: "interval", Doc: "a regular streaming join forgets this source's rows unused for this long ('1h'; default: kept)"},
}

// SinkOptions are read by the engine for every sink.
var SinkOptions = []Option{
	{Name: "connector", Type: "string", Doc: "the connector: file, kafka, stdout or blackhole"},
}

// OptionError is a WITH option the connector refuses; Option is its name
// as written, so the session can point at it in the statement.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return e.Msg }

// Declared lists the options of connector name on one side: the
// engine's common ones first, then the connector's own. ok is false for
// an unknown connector.
func Declared(name string, kind Kind) ([]Option, bool) {
	if kind == KindSink {
		s, ok := sinks[name]
		if !ok {
			return nil, false
		}
		return append(append([]Option(nil), SinkOptions...), s.opts...), true
	}
	s, ok := sources[name]
	if !ok {
		return nil, false
	}
	return append(append([]Option(nil), SourceOptions...), s.opts...), true
}

// Connectors lists the registered connector names of one kind, sorted.
func Connectors(kind Kind) []string {
	var out []string
	if kind == KindSink {
		for k := range sinks {
			out = append(out, k)
		}
	} else {
		for k := range sources {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Check validates opts against the declarations: every key must be a
// declared option (else an OptionError naming it and the nearest
// declared name) and an enum's value one of its values.
func Check(connector string, kind Kind, opts Options) error {
	decl, ok := Declared(connector, kind)
	if !ok {
		return nil // NewSource/NewSink report the unknown connector
	}
	byName := map[string]Option{}
	var names []string
	for _, o := range decl {
		byName[o.Name] = o
		names = append(names, o.Name)
		for _, a := range o.Aliases {
			byName[a] = o
		}
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o, ok := byName[k]
		if !ok {
			o, ok = matchPattern(decl, k)
		}
		if !ok {
			msg := fmt.Sprintf("unknown option %q for a %s %s", k, connector, kind)
			if s := Suggest(k, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (SHOW OPTIONS FOR '" + connector + "' lists them)"
			}
			return &OptionError{Option: k, Msg: msg}
		}
		if o.Type == "enum" && !containsFold(o.Values, strings.TrimSpace(opts[k])) {
			return &OptionError{Option: k, Msg: fmt.Sprintf("option %q must be one of %s, not %q", k, quoteList(o.Values), opts[k])}
		}
	}
	return nil
}

// matchPattern finds the declaration whose name has a '#' segment (any
// one name, such as a column's in datagen's 'fields.#.kind') matching key.
func matchPattern(decl []Option, key string) (Option, bool) {
	segs := strings.Split(key, ".")
	for _, o := range decl {
		if !strings.Contains(o.Name, "#") {
			continue
		}
		want := strings.Split(o.Name, ".")
		if len(want) != len(segs) {
			continue
		}
		match := true
		for i, w := range want {
			if w != "#" && w != segs[i] {
				match = false
				break
			}
		}
		if match {
			return o, true
		}
	}
	return Option{}, false
}

// Suggest is the candidate nearest to name by edit distance, if it is
// close enough to be a plausible typo, else "".
func Suggest(name string, candidates []string) string {
	best, bestD := "", 0
	limit := max(1, min(3, len(name)/2))
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(strings.ToLower(name), strings.ToLower(c))
		if d <= limit && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

func containsFold(vals []string, v string) bool {
	for _, x := range vals {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + v + "'"
	}
	return strings.Join(q, ", ")
}

// Markdown renders the option reference of every registered connector,
// the text between the README's options markers: the options every
// source or sink takes, then each connector's own.
func Markdown() string {
	var b strings.Builder
	table := func(title string, decl []Option) {
		fmt.Fprintf(&b, "\n#### %s\n\n| option | type | default | meaning |\n|---|---|---|---|\n", title)
		for _, o := range decl {
			typ := o.Type
			if o.Type == "enum" {
				typ = strings.Join(o.Values, " \\| ")
			}
			nm := "`" + o.Name + "`"
			for _, a := range o.Aliases {
				nm += ", `" + a + "`"
			}
			def := ""
			if o.Default != "" {
				def = "`" + o.Default + "`"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", nm, typ, def, strings.ReplaceAll(o.Doc, "|", "\\|"))
		}
	}
	table("every source", SourceOptions)
	for _, name := range Connectors(KindSource) {
		table(name+" source", sources[name].opts)
	}
	table("every sink", SinkOptions)
	for _, name := range Connectors(KindSink) {
		table(name+" sink", sinks[name].opts)
	}
	return b.String()
}
