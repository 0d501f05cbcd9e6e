package ebtrace

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ebtrace/ebtrace/internal/output"
)

// Event is one thing a running script produced: Printf, Print, Value,
// Lost, HelperError, Warning or Exit.
type Event interface{ event() }

// Printf is text the script wrote: a printf() call's, or the line of a
// join(), time(), cat() or system() call. Text ends in a newline only
// where the script's format does.
type Printf struct{ Text string }

// Print is a map the script printed: with print(@m) or heatmap(@m) while
// it runs, or every map at exit (AtExit), in name order, unless the
// script's config turns print_maps_on_exit off. print(@m, top, div)'s
// limits are applied.
type Print struct {
	Map    MapSnapshot
	AtExit bool
}

// Value is a value the script printed with print() of something that is
// not a map; it is a value as Entry describes.
type Value struct{ Value any }

// Lost counts events the kernel could not queue for lack of room, reported
// once at exit.
type Lost struct{ Count uint64 }

// HelperError is a helper call that failed at run time; reported only
// with Options.HelperErrors.
type HelperError struct {
	File         string
	Line, Column int
	Helper       string // the helper's name, such as "map_update_elem"
	Code         int64  // the helper's negative return value
	Message      string // what the error number means
}

// Warning is a line the tracer wrote for a person: debugf() output, a
// failed cat() or system(), a map that was full. Text has no newline.
type Warning struct{ Text string }

// Exit is the last event of a session, sent once everything is detached.
type Exit struct {
	// Code is what the script's exit(CODE) asked for; 0 otherwise.
	Code   int
	Reason ExitReason
}

// ExitReason is why a session ended.
type ExitReason string

// The reasons a session ends.
const (
	ExitScript    ExitReason = "exit"      // a probe called exit()
	ExitDone      ExitReason = "done"      // ModeTest or ModeBench ran every probe
	ExitCommand   ExitReason = "command"   // Options.Command ended
	ExitProcess   ExitReason = "process"   // the Options.PID process ended
	ExitCancelled ExitReason = "cancelled" // the context was cancelled
	ExitFailed    ExitReason = "failed"    // an error, which Wait returns
)

func (Printf) event()      {}
func (Print) event()       {}
func (Value) event()       {}
func (Lost) event()        {}
func (HelperError) event() {}
func (Warning) event()     {}
func (Exit) event()        {}

// events delivers a session's events to its channel without ever waiting
// for the reader: an event that finds the channel full is dropped and
// counted.
type events struct {
	// ch holds size events and one more, kept for the Exit event, so
	// that the session's last event always arrives.
	ch      chan Event
	size    int
	dropped atomic.Uint64
	mu      sync.Mutex // orders sends against close
	closed  bool
}

func newEvents(size int) *events { return &events{ch: make(chan Event, size+1), size: size} }

// send delivers ev, or counts it as dropped when the reader has size
// events waiting; the Exit event always has room.
func (e *events) send(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if _, exit := ev.(Exit); !exit && len(e.ch) >= e.size {
		e.dropped.Add(1)
		return
	}
	select {
	case e.ch <- ev:
	default:
		e.dropped.Add(1)
	}
}

func (e *events) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	close(e.ch)
}

// writer is the output.Writer the tracer writes to: each call becomes an
// event.
type writer struct {
	ev     *events
	script *Script
}

func (writer) Attached(int)      {}
func (w writer) Printf(s string) { w.ev.send(Printf{Text: s}) }
func (w writer) Join(s string)   { w.ev.send(Printf{Text: s + "\n"}) }
func (w writer) Print(m *output.Map) {
	w.ev.send(Print{Map: w.script.snapshot(m)})
}
func (w writer) Heatmap(m *output.Map, _ bool) { w.Print(m) }
func (w writer) Value(v any)                   { w.ev.send(Value{Value: value(v)}) }
func (w writer) Lost(n uint64)                 { w.ev.send(Lost{Count: n}) }
func (w writer) Message(_, s string)           { w.ev.send(Printf{Text: s}) }

// End sends the maps printed at exit, in the order the command line
// prints them.
func (w writer) End(maps []*output.Map) {
	sorted := slices.Clone(maps)
	slices.SortStableFunc(sorted, func(a, b *output.Map) int { return cmp.Compare(a.Name, b.Name) })
	for _, m := range sorted {
		w.ev.send(Print{Map: w.script.snapshot(m), AtExit: true})
	}
}

func (w writer) HelperError(h output.HelperError) bool {
	// Where is FILE:LINE:COLUMNS, and a file name may hold a colon.
	file := h.Where
	for range 2 {
		if i := strings.LastIndexByte(file, ':'); i >= 0 {
			file = file[:i]
		}
	}
	w.ev.send(HelperError{File: file, Line: h.Line, Column: h.Col, Helper: h.Helper, Code: h.Code, Message: h.Message})
	return true
}

// TestResult and Benchmarks are never called: sessions run neither test
// nor bench probes.
func (writer) TestResult(output.TestResult)  {}
func (writer) Benchmarks([]output.Benchmark) {}
func (writer) Flush() error                  { return nil }

// warnings turns the tracer's warning stream into Warning events, one per
// line.
type warnings struct {
	ev      *events
	partial []byte
}

// flush sends a last line that ended without a newline.
func (w *warnings) flush() {
	if len(w.partial) > 0 {
		w.ev.send(Warning{Text: string(w.partial)})
		w.partial = nil
	}
}

func (w *warnings) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		line, rest, ok := strings.Cut(string(w.partial), "\n")
		if !ok {
			return len(p), nil
		}
		w.ev.send(Warning{Text: line})
		w.partial = []byte(rest)
	}
}
