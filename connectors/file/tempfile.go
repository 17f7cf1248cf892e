package file

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// tempSeq makes temp names unique within the process; the time seed makes
// them unlikely to collide with another process writing the same directory.
var tempSeq atomic.Uint64

func init() { tempSeq.Store(uint64(time.Now().UnixNano())) }

// createTemp is os.CreateTemp(dir, prefix+"*") except for the mode: the
// file is created 0666 and the kernel applies the umask, as for any file a
// user's program writes. os.CreateTemp makes 0600 files, which rename into
// place as output nobody else can read.
func createTemp(dir, prefix string) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(tempSeq.Add(1)%1e10, 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) && try < 10000 {
			continue
		}
		return f, err
	}
}
