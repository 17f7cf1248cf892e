package engine

import (
	"slices"
	"testing"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// TestRuleKeysAgree: the planner keeps the columns exec's readers check
// by the same metadata keys the engine marks them with.
func TestRuleKeysAgree(t *testing.T) {
	if want := []string{exec.NotNullKey, exec.UnsignedKey}; !slices.Equal(planner.RuleKeys, want) {
		t.Fatalf("planner.RuleKeys %v, exec's keys %v", planner.RuleKeys, want)
	}
}
