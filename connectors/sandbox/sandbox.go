// Package sandbox confines the files a session reads and writes to one
// directory (cmd/sluice --sandbox DIR, sluice.Config.FileRoot). It is the
// one place the rule is decided: the file connector checks every source
// file, glob and sink path through it, the Kafka connector its TLS files,
// and the engine the checkpoint directory.
//
// A path is inside when, after relative paths are resolved against the
// working directory as usual, every symlink and ".." is resolved and the
// result lies in the sandbox directory (itself resolved). A path that does
// not exist yet (a sink, a checkpoint directory) is judged by its deepest
// existing parent, resolved, plus the rest, which cannot hold a symlink
// because it does not exist.
//
// The check runs when a path is configured, not at each open: it stops a
// SQL user naming files outside the directory or escaping through links
// already in it, not a local user swapping links between check and use.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutside is wrapped by every error for a path outside the sandbox.
var ErrOutside = errors.New("outside the sandbox")

// Root is a sandbox directory. A nil *Root allows every path, so code
// paths need no "is there a sandbox" branch.
type Root struct {
	dir  string // as configured, for messages
	real string // absolute, symlinks resolved
}

// New makes a sandbox of dir, which must be an existing directory.
func New(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("sandbox %q: %w", dir, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("sandbox %q: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("sandbox %q is not a directory", dir)
	}
	return &Root{dir: dir, real: real}, nil
}

// Dir is the sandbox directory, absolute with symlinks resolved ("" for
// a nil Root).
func (r *Root) Dir() string {
	if r == nil {
		return ""
	}
	return r.real
}

// Check returns nil when path lies inside the sandbox, and otherwise an
// error naming option (the WITH option or flag the path came from) and
// the path as given: `path "/etc/passwd" is outside the sandbox "/srv/data"`.
// A glob pattern (with * ? or [) is judged by the directory before its
// first wildcard; the caller checks each file it matches too, since a
// match may be a symlink.
func (r *Root) Check(option, path string) error {
	if r == nil {
		return nil
	}
	p := path
	if i := strings.IndexAny(p, "*?["); i >= 0 {
		p = p[:i]
		if j := strings.LastIndexByte(p, filepath.Separator); j >= 0 {
			p = p[:j+1]
		} else {
			p = "."
		}
	}
	real, err := resolve(p)
	if err != nil {
		return fmt.Errorf("%s %q: cannot check it against the sandbox %q: %w", option, path, r.dir, err)
	}
	if !within(r.real, real) {
		var via string
		if abs, _ := filepath.Abs(path); abs != real && !strings.ContainsAny(path, "*?[") {
			via = fmt.Sprintf(" (it resolves to %q)", real)
		}
		return fmt.Errorf("%s %q is %w %q%s", option, path, ErrOutside, r.dir, via)
	}
	return nil
}

// resolve makes p absolute and resolves every symlink in its deepest
// existing prefix; the components after it, which do not exist, are
// joined lexically. The prefix is found component by component on the
// path as written (not a lexically cleaned one), so "link/.." means the
// parent of the link's target, as it does to the kernel.
func resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		p = wd + string(filepath.Separator) + p
	}
	var rest []string
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		p = strings.TrimRight(p, string(filepath.Separator))
		i := strings.LastIndexByte(p, filepath.Separator)
		if i < 0 {
			return "", err
		}
		rest = append([]string{p[i+1:]}, rest...)
		p = p[:i+1]
	}
}

// within reports whether path (absolute, clean) is dir or under it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
