package main

import (
	"os"
	"runtime/debug"
)

// defaultGOGC is the garbage collector's target when the GOGC environment
// variable is not set: the heap may grow by half its live size between
// collections, where Go's default lets it double. tocsin is meant to run
// beside what it watches, on small machines; with 1,000 HTTP probes this
// keeps about 10 MB less resident, for more CPU per probe run (the figures
// are in docs/benchmarks.md).
const defaultGOGC = 50

// gcPercent is the GOGC that tocsin run sets, and false when the user's
// GOGC is to stand. GOMEMLIMIT needs nothing here: the runtime reads it
// itself, and it applies together with either GOGC.
func gcPercent(lookupEnv func(string) (string, bool)) (int, bool) {
	if _, set := lookupEnv("GOGC"); set {
		return 0, false
	}
	return defaultGOGC, true
}

// setGCPolicy applies defaultGOGC unless GOGC is set.
func setGCPolicy() {
	if p, ok := gcPercent(os.LookupEnv); ok {
		debug.SetGCPercent(p)
	}
}
