package planner

import "testing"

// TestInternalTopicNames: internal topic names are built from the group,
// the operator and the role, and read back only for their own group (a
// group whose name extends another's does not claim its topics).
func TestInternalTopicNames(t *testing.T) {
	if got := InternalTopicName("my app/1", "join0", "changelog"); got != "_sluice-my_app_1-join0-changelog" {
		t.Errorf("InternalTopicName = %q", got)
	}
	for _, tc := range []struct {
		group, topic, op, role string
		ok                     bool
	}{
		{"g", "_sluice-g-groupaggregate0-repartition", "groupaggregate0", "repartition", true},
		{"g", "_sluice-g-join1-changelog", "join1", "changelog", true},
		{"g", "_sluice-g-x-join1-changelog", "", "", false},
		{"g-x", "_sluice-g-x-join1-changelog", "join1", "changelog", true},
		{"g", "_sluice-g-join1-other", "", "", false},
		{"g", "orders", "", "", false},
	} {
		op, role, ok := InternalTopicOf(tc.group, tc.topic)
		if op != tc.op || role != tc.role || ok != tc.ok {
			t.Errorf("InternalTopicOf(%q, %q) = %q, %q, %v; want %q, %q, %v", tc.group, tc.topic, op, role, ok, tc.op, tc.role, tc.ok)
		}
	}
}
