package exec

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dustin/go-humanize"
)

// ErrMemoryLimit is wrapped by every error a Budget returns when state
// would grow past the memory limit (test with errors.Is).
var ErrMemoryLimit = errors.New("memory limit exceeded")

// Budget is the memory a query's state may hold: group tables, join build
// sides, sort buffers. Operators account what they keep through an Account
// and fail with a MemoryLimitError instead of growing until the process is
// killed. A nil *Budget is unlimited. It is safe for concurrent use, so
// parallel operator instances share one budget.
type Budget struct {
	limit    int64
	spillDir string
	used     atomic.Int64
}

// NewBudget returns a budget of limit bytes; limit <= 0 is unlimited.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// WithSpill returns a budget of b's limit whose operators that can spill
// (a streaming GROUP BY's groups) move cold state to disk under dir
// rather than fail when they reach the limit; dir "" spills nothing.
func (b *Budget) WithSpill(dir string) *Budget {
	return &Budget{limit: b.Limit(), spillDir: dir}
}

// SpillDir is where operators spill state past the limit ("" when they
// must fail instead, see WithSpill).
func (b *Budget) SpillDir() string {
	if b == nil || b.limit <= 0 {
		return ""
	}
	return b.spillDir
}

// Limit is the budget in bytes (<= 0: unlimited).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Used is the bytes accounted by every open Account.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Account opens an account for one operator instance; operator names it
// in errors (the plan line EXPLAIN shows, e.g. "HashAggregate: keys=[k]").
// Accounts of a nil budget accept everything.
func (b *Budget) Account(operator string) *Account {
	return &Account{b: b, op: operator}
}

// Account is one operator's share of a Budget. It is not safe for
// concurrent use: each operator instance has its own. A nil *Account
// accepts everything, so operators built without a budget need no checks.
type Account struct {
	b  *Budget
	op string
	n  int64
}

// MemoryLimitError says which operator would have outgrown the budget.
type MemoryLimitError struct {
	Operator string
	Limit    int64 // the budget, bytes
	Need     int64 // what the query's state would have held, bytes
}

func (e *MemoryLimitError) Error() string {
	return fmt.Sprintf("%s: state needs %s, more than the memory limit of %s (raise it with SET memory_limit = '%s' or Config.MemoryLimit)",
		e.Operator, humanize.IBytes(uint64(e.Need)), humanize.IBytes(uint64(e.Limit)), humanize.IBytes(uint64(2*e.Limit)))
}

// Unwrap makes errors.Is(err, ErrMemoryLimit) hold.
func (e *MemoryLimitError) Unwrap() error { return ErrMemoryLimit }

// Grow accounts n more bytes (n < 0 releases). Past the limit nothing is
// accounted and a *MemoryLimitError is returned.
func (a *Account) Grow(n int64) error {
	if a == nil || a.b == nil || n == 0 {
		return nil
	}
	used := a.b.used.Add(n)
	if n > 0 && a.b.limit > 0 && used > a.b.limit {
		a.b.used.Add(-n)
		return &MemoryLimitError{Operator: a.op, Limit: a.b.limit, Need: used}
	}
	a.n += n
	return nil
}

// Resize sets the account to total bytes: operators that measure their
// state rather than track each allocation call it after each batch.
func (a *Account) Resize(total int64) error {
	if a == nil {
		return nil
	}
	return a.Grow(total - a.n)
}

// Force sets the account to total bytes whatever the limit (an operator
// that spilled all it could keeps the state of the batch at hand, which
// the other accounts then make room for by spilling theirs).
func (a *Account) Force(total int64) {
	if a == nil || a.b == nil {
		return
	}
	a.b.used.Add(total - a.n)
	a.n = total
}

// SpillDir is the budget's spill directory (Budget.SpillDir); "" for a
// nil account.
func (a *Account) SpillDir() string {
	if a == nil {
		return ""
	}
	return a.b.SpillDir()
}

// Limit is the budget's limit in bytes (<= 0, and for a nil account:
// unlimited).
func (a *Account) Limit() int64 {
	if a == nil {
		return 0
	}
	return a.b.Limit()
}

// Used is the bytes this account holds.
func (a *Account) Used() int64 {
	if a == nil {
		return 0
	}
	return a.n
}

// Close releases everything the account holds; idempotent.
func (a *Account) Close() {
	if a == nil || a.b == nil {
		return
	}
	a.b.used.Add(-a.n)
	a.n = 0
}

// DefaultMemoryFraction is the share of the machine's memory (physical,
// or the cgroup's limit when lower) that DefaultMemoryLimit gives state.
const DefaultMemoryFraction = 0.5

// DefaultMemoryLimit is DefaultMemoryFraction of the memory available to
// the process, or 0 (unlimited) when it cannot be read.
func DefaultMemoryLimit() int64 {
	return int64(float64(SystemMemory()) * DefaultMemoryFraction)
}

// SystemMemory is the memory available to this process in bytes: the
// physical memory (/proc/meminfo MemTotal), lowered by a cgroup memory
// limit (v2 memory.max, or v1 memory.limit_in_bytes). 0 when unknown.
func SystemMemory() int64 {
	total := memTotal("/proc/meminfo")
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64) // "max" fails: no limit
		if err == nil && n > 0 && (total == 0 || n < total) {
			total = n
		}
	}
	return total
}

// memTotal reads the MemTotal line of a meminfo file ("MemTotal: 123 kB").
func memTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			n, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			if len(fields) >= 3 && strings.EqualFold(fields[2], "kB") {
				n *= 1024
			}
			return n
		}
	}
	return 0
}

// ParseMemoryLimit reads a memory limit as SET memory_limit and the CLI
// take it: a size ('2GB' = 2·10⁹ bytes, '2GiB' = 2·2³⁰, '512MB', a plain
// byte count), a share of SystemMemory ('50%'), or 'none'/'0' for
// unlimited (returned as 0).
func ParseMemoryLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "none", "unlimited", "0":
		return 0, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || f <= 0 || f > 100 {
			return 0, fmt.Errorf("memory limit %q: a percentage must be in (0, 100]", s)
		}
		sys := SystemMemory()
		if sys == 0 {
			return 0, fmt.Errorf("memory limit %q: the system memory is unknown; give a size such as '2GB'", s)
		}
		return int64(float64(sys) * f / 100), nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > 1<<62 {
		return 0, fmt.Errorf("memory limit %q: want a size such as '2GB', '512MiB' or '50%%', or 'none'", s)
	}
	return int64(n), nil
}
