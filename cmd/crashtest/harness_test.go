package main

import "testing"

// TestMoments: which landed files are the chosen moments.
func TestMoments(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		checkpoint, pending, visible bool
	}{
		{"chk-0000000002.manifest", true, false, false},
		{"checkpoint.gob", true, false, false},
		{"checkpoint.prev.gob", false, false, false},
		{"checkpoint.gob.tmp123", false, true, false},
		{"state-0000000001-0.bin", false, false, false},
		{".chk-0000000003.manifest.tmp-1", false, true, false},
		{".part-00001.csv.tmp-5521819933", false, true, false},
		{"_pending-00001.csv", false, true, false},
		{"part-00001.csv.inprogress", false, true, false},
		{"part-00001.csv", false, false, true},
		{"all.csv", false, false, true},
		{"._sluice_manifest.json.tmp-4242", false, false, false},
		{"_sluice_manifest.json", false, false, false},
	} {
		if got := isCheckpointPublication(tc.name); got != tc.checkpoint {
			t.Errorf("%s: checkpoint publication %v", tc.name, got)
		}
		e := &episode{}
		ev := fsEvent{Path: "/x/" + tc.name}
		if got := e.matches(killPending, ev); got != tc.pending {
			t.Errorf("%s: pending part %v", tc.name, got)
		}
		if got := e.matches(killVisible, ev); got != tc.visible {
			t.Errorf("%s: visible part %v", tc.name, got)
		}
	}
}
