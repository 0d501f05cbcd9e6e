package record

import (
	"bufio"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// chromeSink writes the Chrome trace-event format (a JSON object with a
// traceEvents array) that Perfetto's UI and chrome://tracing open. A
// syscalls:sys_enter_X followed on the same thread by sys_exit_X becomes
// one complete ("X") event spanning the call; every other event is a
// thread-scoped instant ("i"). Events stream out as they come, so the file
// grows with the recording; Finish closes the array.
type chromeSink struct {
	w       *bufio.Writer
	first   bool
	pending map[int]pendingCall // by thread id
	threads map[int]thread      // by thread id, for the name metadata
	last    uint64              // latest event time, where lost records go
}

type pendingCall struct {
	syscall string
	e       Event
	args    []Value
}

type thread struct {
	pid  int
	comm string
}

func newChromeSink(w *bufio.Writer) *chromeSink {
	w.WriteString(`{"displayTimeUnit":"ns","traceEvents":[`)
	return &chromeSink{w: w, first: true, pending: map[int]pendingCall{}, threads: map[int]thread{}}
}

// syscallOf returns X for syscalls:sys_enter_X or sys_exit_X.
func syscallOf(e *Event) (name string, enter, ok bool) {
	if e.Format.Category != "syscalls" {
		return "", false, false
	}
	if name, ok := strings.CutPrefix(e.Format.Name, "sys_enter_"); ok {
		return name, true, true
	}
	name, ok = strings.CutPrefix(e.Format.Name, "sys_exit_")
	return name, false, ok
}

func (s *chromeSink) Event(e *Event) error {
	s.threads[e.TID] = thread{e.PID, e.Comm}
	s.last = max(s.last, e.Time)
	call, enter, isSyscall := syscallOf(e)
	switch {
	case isSyscall && enter:
		if p, ok := s.pending[e.TID]; ok {
			s.instant(&p.e, p.args)
		}
		s.pending[e.TID] = pendingCall{call, *e, e.Fields()}
	case isSyscall:
		p, ok := s.pending[e.TID]
		if !ok || p.syscall != call || p.e.Time > e.Time {
			s.instant(e, e.Fields())
			break
		}
		delete(s.pending, e.TID)
		s.open("X", call, p.e.Format.Category, p.e.Time, e.PID, e.TID)
		fmt.Fprintf(s.w, `,"dur":%s,"args":`, micros(e.Time-p.e.Time))
		writeFields(s.w, mergeArgs(p.args, e.Fields()), false)
		s.w.WriteByte('}')
	default:
		s.instant(e, e.Fields())
	}
	return nil
}

// mergeArgs adds to a call's arguments the fields of its exit that it
// does not have already (ret; __syscall_nr is in both).
func mergeArgs(enter, exit []Value) []Value {
	out := slices.Clone(enter)
	for _, v := range exit {
		if !slices.ContainsFunc(enter, func(e Value) bool { return e.Field.Name == v.Field.Name }) {
			out = append(out, v)
		}
	}
	return out
}

func (s *chromeSink) instant(e *Event, fields []Value) {
	s.open("i", e.Format.Name, e.Format.Category, e.Time, e.PID, e.TID)
	s.w.WriteString(`,"s":"t","args":`)
	writeFields(s.w, fields, false)
	s.w.WriteByte('}')
}

// open starts an event object, leaving it open for its phase's members.
func (s *chromeSink) open(phase, name, category string, time uint64, pid, tid int) {
	if !s.first {
		s.w.WriteByte(',')
	}
	s.first = false
	s.w.WriteString("\n{\"ph\":")
	writeJSON(s.w, phase)
	s.w.WriteString(`,"name":`)
	writeJSON(s.w, name)
	s.w.WriteString(`,"cat":`)
	writeJSON(s.w, category)
	fmt.Fprintf(s.w, `,"ts":%s,"pid":%d,"tid":%d`, micros(time), pid, tid)
}

// Finish writes calls still open as instants, the lost counts as global
// instants and in otherData, and the names of the processes and threads.
func (s *chromeSink) Finish(lost []uint64) error {
	for _, tid := range slices.Sorted(maps.Keys(s.pending)) {
		p := s.pending[tid]
		s.instant(&p.e, p.args)
	}
	for cpu, n := range lost {
		if n > 0 {
			s.open("i", "lost events", "ebtrace", s.last, 0, 0)
			fmt.Fprintf(s.w, `,"s":"g","args":{"cpu":%d,"count":%d}}`, cpu, n)
		}
	}
	// A process is named after its main thread, else its first seen.
	processes := map[int]string{}
	for _, tid := range slices.Sorted(maps.Keys(s.threads)) {
		th := s.threads[tid]
		if _, ok := processes[th.pid]; !ok || tid == th.pid {
			processes[th.pid] = th.comm
		}
		s.metadata("thread_name", th.pid, tid, th.comm)
	}
	for _, pid := range slices.Sorted(maps.Keys(processes)) {
		s.metadata("process_name", pid, pid, processes[pid])
	}
	s.w.WriteString("\n],\"otherData\":{\"lost_events\":{")
	first := true
	for cpu, n := range lost {
		if n > 0 {
			if !first {
				s.w.WriteByte(',')
			}
			first = false
			fmt.Fprintf(s.w, `"cpu%d":%d`, cpu, n)
		}
	}
	s.w.WriteString("}}}\n")
	return s.w.Flush()
}

func (s *chromeSink) metadata(name string, pid, tid int, value string) {
	if !s.first {
		s.w.WriteByte(',')
	}
	s.first = false
	s.w.WriteString("\n{\"ph\":\"M\",\"name\":")
	writeJSON(s.w, name)
	fmt.Fprintf(s.w, `,"pid":%d,"tid":%d,"args":{"name":`, pid, tid)
	writeJSON(s.w, value)
	s.w.WriteString("}}")
}

// micros prints nanoseconds as the format's microseconds, exactly.
func micros(ns uint64) string { return fmt.Sprintf("%d.%03d", ns/1000, ns%1000) }
