package main

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// actionKind is how one run of an episode is interrupted.
type actionKind int

const (
	// killRandom: SIGKILL at a random moment (a fraction of the clean
	// run's duration after the start).
	killRandom actionKind = iota
	// killCheckpoint: SIGKILL right after the nth checkpoint file of the
	// run is renamed (or written) into place in the checkpoint directory.
	killCheckpoint
	// killPending: SIGKILL right after the file sink finished writing a
	// part file that is not visible yet (a pending or temporary file):
	// between writing the part and committing the checkpoint that covers
	// it (arroyo#802).
	killPending
	// killVisible: SIGKILL right after a part file became visible in the
	// file sink's directory.
	killVisible
	// killSent: SIGKILL right after records reached the Kafka output topic
	// (produced in a transaction the query has not committed yet).
	killSent
	// killCommitting: SIGKILL when a member of a scaled-out query asks
	// the broker to commit one of its transactions (EndTxn), the request
	// dropped: everything of the transaction was sent, none of it
	// commits.
	killCommitting
	// killCommitted: SIGKILL right after the broker committed one of a
	// member's transactions, before the member does anything else.
	killCommitted
	// stopQuick: SIGTERM or SIGINT 50-400 ms after the start (after the
	// CLI installed its handler, before much input is read), as soon as a
	// restart is under way (the duplicates after a quick stop
	// following a restart); the run must exit cleanly.
	stopQuick
	// stopRandom: SIGTERM or SIGINT at a random moment; a clean exit.
	stopRandom
)

var actionNames = map[actionKind]string{
	killRandom: "kill-random", killCheckpoint: "kill-after-checkpoint", killPending: "kill-part-pending",
	killVisible: "kill-part-visible", killSent: "kill-records-sent",
	killCommitting: "kill-committing", killCommitted: "kill-committed", stopQuick: "stop-quick", stopRandom: "stop-random",
}

func (k actionKind) String() string { return actionNames[k] }

// isKill reports a SIGKILL action (else a clean stop).
func (k actionKind) isKill() bool { return k < stopQuick }

// action is one planned interruption.
type action struct {
	kind  actionKind
	frac  float64        // killRandom, stopRandom: when, as a fraction of the clean run's duration
	delay time.Duration  // stopQuick: when, after the start
	nth   int            // chosen moments: which occurrence of the event
	sig   syscall.Signal // stops: SIGTERM or SIGINT
	// Scaled-out pipelines: the member interrupted (from 0), and how
	// long it stays down before it is started again.
	member int
	down   time.Duration
}

func (a action) String() string {
	switch a.kind {
	case killRandom:
		return fmt.Sprintf("%s at %.0f%% of the clean run", a.kind, a.frac*100)
	case stopRandom:
		return fmt.Sprintf("%s (%s) at %.0f%% of the clean run", a.kind, a.sig, a.frac*100)
	case stopQuick:
		return fmt.Sprintf("%s (%s) %s after start", a.kind, a.sig, a.delay)
	}
	return fmt.Sprintf("%s #%d", a.kind, a.nth)
}

// schedule plans the interruptions of one pipeline: kills SIGKILLs, half
// at chosen moments (cycling through the moments the sink offers; with few
// kills all but one, so every moment is covered when there are enough),
// the rest at random; and stops clean stops, quick ones first. The order
// is shuffled by rng, except that a run is never stopped quickly before
// it had a predecessor to restart from. The same rng state gives the same
// plan, so -seed replays a failure's schedule.
func schedule(rng *rand.Rand, kills, stops int, sink sinkKind) []action {
	chosen := []actionKind{killCheckpoint, killPending, killVisible}
	if sink.kafka() {
		chosen = []actionKind{killCheckpoint, killSent}
	}
	nChosen := max(kills/2, min(len(chosen), kills-1))
	var out []action
	for i := 0; i < kills; i++ {
		if i < nChosen {
			out = append(out, action{kind: chosen[i%len(chosen)], nth: 1 + rng.IntN(3)})
			continue
		}
		out = append(out, action{kind: killRandom, frac: 0.1 + 0.7*rng.Float64()})
	}
	out = append(out, planStops(rng, stops)...)
	shuffle(rng, out)
	return out
}

// planStops plans stops clean stops, quick and random ones in turn.
func planStops(rng *rand.Rand, stops int) []action {
	var out []action
	for i := 0; i < stops; i++ {
		sig := syscall.SIGTERM
		if rng.IntN(2) == 0 {
			sig = syscall.SIGINT
		}
		if i%2 == 0 {
			out = append(out, action{kind: stopQuick, sig: sig, delay: time.Duration(50+rng.IntN(350)) * time.Millisecond})
		} else {
			out = append(out, action{kind: stopRandom, sig: sig, frac: 0.1 + 0.7*rng.Float64()})
		}
	}
	return out
}

// shuffle puts plan in a random order, except that a run is never
// stopped quickly before it had a predecessor to restart from.
func shuffle(rng *rand.Rand, out []action) {
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if len(out) > 1 && out[0].kind == stopQuick {
		for i := 1; i < len(out); i++ {
			if out[i].kind != stopQuick {
				out[0], out[i] = out[i], out[0]
				break
			}
		}
	}
}
