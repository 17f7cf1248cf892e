package file

import (
	"fmt"
	"os"

	"github.com/sluicesql/sluice/exec"
)

// expectProgress tells a batch scan's progress (exec.ScanProgress) how
// much a whole file holds: its rows for Parquet (from the footer), its
// bytes for text formats. The morsels of a file cover all of it, so a
// split scan expects the same. It costs a stat or a footer read per
// file, so it runs only when a display asked for progress.
func (s *Source) expectProgress(p *exec.ScanProgress, path string) error {
	if p == nil {
		return nil
	}
	if s.opts.Format == FormatParquet {
		f, pf, err := openParquetFile(path)
		if err != nil {
			return err
		}
		defer f.Close()
		p.Expect(exec.ProgressRows, pf.NumRows())
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("file connector: %w", err)
	}
	p.Expect(exec.ProgressBytes, st.Size())
	return nil
}
