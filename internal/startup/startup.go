// Package startup owns the mark of when the process's ebtrace code began to
// run: it imports nothing of ebtrace's and only package time, so Go
// initialises it before every other ebtrace package (packages initialise
// in import path order once their imports have). EBTRACE_TIMING measures
// package initialisation from it, and all of start-up when no parent said
// when it spawned the process.
package startup

import "time"

// Init is when this package was initialised; durations from it use Go's
// monotonic clock, which is CLOCK_MONOTONIC.
var Init = time.Now()
