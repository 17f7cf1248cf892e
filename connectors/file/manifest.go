package file

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ManifestName is the commit log of a directory a file sink writes: the
// part files committed so far, in commit order. A part file is listed
// only once its rename is done, so a reader going by the manifest (the
// file source does) sees exactly the committed output: never a file of a
// run that crashed before its checkpoint, never a file an overwrite has
// replaced. Its leading '_' keeps other tools' directory listings (Spark,
// Hadoop) from reading it as data.
const ManifestName = "_sluice_manifest.json"

// manifest is the JSON of ManifestName.
type manifest struct {
	Version int      `json:"version"`
	Files   []string `json:"files"`
}

// readManifest reads dir's manifest; ok is false when there is none.
func readManifest(dir string) (files []string, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("file connector: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false, fmt.Errorf("file connector: %s is damaged: %v", filepath.Join(dir, ManifestName), err)
	}
	for _, f := range m.Files {
		if filepath.Base(f) != f || strings.HasPrefix(f, ".") {
			return nil, false, fmt.Errorf("file connector: %s names %q, not a file of the directory", filepath.Join(dir, ManifestName), f)
		}
	}
	return m.Files, true, nil
}

// writeManifest replaces dir's manifest atomically (a hidden temp file
// renamed over it, the directory fsynced).
func writeManifest(dir string, files []string) error {
	b, err := json.MarshalIndent(manifest{Version: 1, Files: files}, "", "  ")
	if err != nil {
		return err
	}
	f, err := createTemp(dir, "."+ManifestName+".tmp-")
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("file sink: writing the manifest of %s: %w", dir, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, ManifestName)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("file sink: writing the manifest of %s: %w", dir, err)
	}
	return syncDir(dir)
}

// committedFiles lists the data of a directory as a reader sees it: the
// manifest's files, or without a manifest every visible file with the
// format's extension, sorted.
func committedFiles(dir, fmtName string) ([]string, error) {
	files, ok, err := readManifest(dir)
	if err != nil || ok {
		return files, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file connector: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		for _, x := range extsOf(fmtName) {
			if strings.HasSuffix(strings.ToLower(e.Name()), x) {
				files = append(files, e.Name())
				break
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

// updateManifest records a commit of run in the directory's manifest:
// the files in add are appended, those in drop removed. In overwrite
// mode every file of another run is dropped too, and deleted once the
// new manifest is in place, so a reader sees the old output or the new,
// never a mix. Without a manifest yet, the directory's data files so far
// are its start.
func (w *SinkWriter) updateManifest(run string, add, drop []string) error {
	dir := w.sink.opts.Path
	old, err := committedFiles(dir, w.sink.opts.Format)
	if err != nil {
		return err
	}
	gone := map[string]bool{}
	for _, d := range drop {
		gone[d] = true
	}
	var keep, removed []string
	seen := map[string]bool{}
	for _, f := range old {
		r, _, isPart := partInfo(f)
		if gone[f] || w.sink.mode == ModeOverwrite && !(isPart && r == run) {
			removed = append(removed, f)
			continue
		}
		keep = append(keep, f)
		seen[f] = true
	}
	for _, f := range add {
		if !seen[f] {
			keep = append(keep, f)
			seen[f] = true
		}
	}
	if err := writeManifest(dir, keep); err != nil {
		return err
	}
	for _, f := range removed {
		if seen[f] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("file sink: removing %s replaced by 'mode' = 'overwrite': %w", filepath.Join(dir, f), err)
		}
	}
	return nil
}
