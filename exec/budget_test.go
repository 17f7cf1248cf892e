package exec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestBudgetAccounts(t *testing.T) {
	b := NewBudget(1000)
	a1, a2 := b.Account("HashAggregate: keys=[k]"), b.Account("Sort: k")
	if err := a1.Grow(600); err != nil {
		t.Fatal(err)
	}
	if err := a2.Resize(300); err != nil {
		t.Fatal(err)
	}
	err := a2.Grow(200) // 1100 > 1000
	var mle *MemoryLimitError
	if !errors.Is(err, ErrMemoryLimit) || !errors.As(err, &mle) {
		t.Fatalf("over the limit: %v", err)
	}
	if mle.Operator != "Sort: k" || mle.Limit != 1000 || mle.Need != 1100 {
		t.Errorf("error fields %+v", mle)
	}
	for _, want := range []string{"Sort: k", "1000 B", "memory_limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if b.Used() != 900 || a2.Used() != 300 {
		t.Errorf("a refused Grow was accounted: budget %d, account %d", b.Used(), a2.Used())
	}
	if err := a2.Resize(100); err != nil || b.Used() != 700 {
		t.Errorf("shrink: %v, used %d", err, b.Used())
	}
	a1.Close()
	a1.Close() // idempotent
	if b.Used() != 100 {
		t.Errorf("after close: used %d, want 100", b.Used())
	}
	if err := a2.Grow(900); err != nil { // the freed share is usable again
		t.Fatal(err)
	}
}

func TestBudgetUnlimited(t *testing.T) {
	var nilBudget *Budget
	var nilAccount *Account
	for _, a := range []*Account{nilAccount, nilBudget.Account("x"), NewBudget(0).Account("x")} {
		if err := a.Grow(1 << 60); err != nil {
			t.Errorf("unlimited account refused: %v", err)
		}
		a.Close()
	}
}

func TestBudgetConcurrent(t *testing.T) {
	b := NewBudget(1 << 20)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := b.Account("worker")
			for j := 0; j < 1000; j++ {
				_ = a.Grow(100)
			}
			a.Close()
		}()
	}
	wg.Wait()
	if b.Used() != 0 {
		t.Errorf("used %d after every account closed", b.Used())
	}
}

func TestParseMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"2GB", 2_000_000_000}, {"2GiB", 2 << 30}, {"512 MB", 512_000_000}, {"1024", 1024},
		{"none", 0}, {"0", 0},
	} {
		got, err := ParseMemoryLimit(c.in)
		if err != nil || got != c.want {
			t.Errorf("%q = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"lots", "-1GB", "150%", "0%", "GB"} {
		if _, err := ParseMemoryLimit(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v should name the value", bad, err)
		}
	}
	if SystemMemory() > 0 {
		half, err := ParseMemoryLimit("50%")
		if err != nil || half != SystemMemory()/2 {
			t.Errorf("50%% = %d, %v; system %d", half, err, SystemMemory())
		}
	}
}

func TestMemTotal(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	if err := os.WriteFile(p, []byte("MemFree: 5 kB\nMemTotal:       24683548 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := memTotal(p); got != 24683548*1024 {
		t.Errorf("memTotal = %d", got)
	}
	if got := memTotal(filepath.Join(t.TempDir(), "none")); got != 0 {
		t.Errorf("missing file: %d", got)
	}
}
