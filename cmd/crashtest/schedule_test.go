package main

import (
	"reflect"
	"testing"
)

// TestSchedule: a plan has the asked numbers of kills and stops, covers
// every chosen moment of the sink once there are enough kills, never
// starts with a quick stop, and is the same for the same seed.
func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		name        string
		kills       int
		stops       int
		sink        sinkKind
		wantMoments []actionKind
	}{
		{"file ci", 4, 1, sinkFileDir, []actionKind{killCheckpoint, killPending, killVisible, killRandom}},
		{"kafka ci", 3, 1, sinkKafka, []actionKind{killCheckpoint, killSent, killRandom}},
		{"file full", 20, 5, sinkFileSingle, []actionKind{killCheckpoint, killPending, killVisible, killRandom}},
		{"kafka full", 20, 5, sinkKafkaUpsert, []actionKind{killCheckpoint, killSent, killRandom}},
		{"one kill", 1, 1, sinkFileDir, []actionKind{killRandom}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				plan := schedule(pipelineRNG(seed, tc.name), tc.kills, tc.stops, tc.sink)
				again := schedule(pipelineRNG(seed, tc.name), tc.kills, tc.stops, tc.sink)
				if !reflect.DeepEqual(plan, again) {
					t.Fatalf("seed %d: two plans differ:\n%v\n%v", seed, plan, again)
				}
				kinds := map[actionKind]int{}
				kills, stops := 0, 0
				for _, a := range plan {
					kinds[a.kind]++
					if a.kind.isKill() {
						kills++
					} else {
						stops++
					}
					if a.kind == killRandom && (a.frac < 0.1 || a.frac > 0.8) {
						t.Errorf("seed %d: random kill at %v of the clean run", seed, a.frac)
					}
					if a.kind == killSent && !tc.sink.kafka() || (a.kind == killPending || a.kind == killVisible) && tc.sink.kafka() {
						t.Errorf("seed %d: %s for a %v sink", seed, a.kind, tc.sink)
					}
				}
				if kills != tc.kills || stops != tc.stops {
					t.Errorf("seed %d: %d kills %d stops, want %d and %d: %v", seed, kills, stops, tc.kills, tc.stops, plan)
				}
				for _, k := range tc.wantMoments {
					if kinds[k] == 0 {
						t.Errorf("seed %d: no %s in %v", seed, k, plan)
					}
				}
				if len(plan) > 1 && plan[0].kind == stopQuick {
					t.Errorf("seed %d: the plan starts with a quick stop: %v", seed, plan)
				}
			}
		})
	}
	a := schedule(pipelineRNG(1, "x"), 20, 5, sinkFileDir)
	b := schedule(pipelineRNG(2, "x"), 20, 5, sinkFileDir)
	if reflect.DeepEqual(a, b) {
		t.Error("seeds 1 and 2 give the same plan")
	}
}
