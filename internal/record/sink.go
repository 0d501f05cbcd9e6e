package record

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ebtrace/ebtrace/internal/ebt"
	"github.com/ebtrace/ebtrace/internal/kernel"
)

// Sink writes recorded events in one output format.
type Sink interface {
	Event(e *Event) error
	// Finish ends the output, recording the per-CPU counts of lost
	// events (lost[cpu]; CPUs that lost none are zero).
	Finish(lost []uint64) error
}

// Starter is a Sink that writes something before the first event: Run
// calls Start first with every event the recording records and when it
// began, in CLOCK_MONOTONIC nanoseconds.
type Starter interface {
	Start(formats []*kernel.Format, began uint64) error
}

// NewSink returns the writer for format: "text", "json", "chrome" or
// "ebt".
func NewSink(format string, w io.Writer) (Sink, error) {
	if format == "ebt" {
		return &ebtSink{w: ebt.NewWriter(w)}, nil
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case "text":
		return &textSink{w: bw}, nil
	case "json":
		return &jsonSink{w: bw}, nil
	case "chrome":
		return newChromeSink(bw), nil
	}
	return nil, fmt.Errorf("unknown output format %q: want text, json, chrome or ebt", format)
}

// ebtSink writes an .ebt recording (package ebt), which a replay reads:
// each event's raw record beside its format file and the machine's
// identity and clock.
type ebtSink struct{ w *ebt.Writer }

// Start writes the header: this machine's, with the format file of every
// recorded event read as tracefs has it.
func (s *ebtSink) Start(formats []*kernel.Format, began uint64) error {
	h, err := ebt.Host()
	if err != nil {
		return err
	}
	h.Start = began
	root, _, err := kernel.Tracefs()
	if err != nil {
		return err
	}
	for _, f := range formats {
		text, err := os.ReadFile(filepath.Join(root, "events", f.Category, f.Name, "format"))
		if err != nil {
			return err
		}
		h.Formats = append(h.Formats, ebt.FormatText{Tracepoint: f.Tracepoint, Text: string(text)})
	}
	return s.w.Header(h)
}

func (s *ebtSink) Event(e *Event) error {
	return s.w.Event(&ebt.Event{Format: e.Format, Time: e.Time, CPU: e.CPU, PID: e.PID, TID: e.TID, Comm: e.Comm, Raw: e.Raw})
}

func (s *ebtSink) Finish(lost []uint64) error {
	for cpu, n := range lost {
		if n > 0 {
			if err := s.w.Lost(cpu, n); err != nil {
				return err
			}
		}
	}
	return s.w.Close(kernel.MonotonicNow())
}

// textSink writes one line per event as the kernel's trace file does:
// comm-tid [cpu] seconds: name: field=value ...
type textSink struct{ w *bufio.Writer }

func (s *textSink) Event(e *Event) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%16s-%-7d [%03d] %s: %s:", e.Comm, e.TID, e.CPU, seconds(e.Time), e.Format.Name)
	for _, v := range e.Fields() {
		if !v.Field.Common {
			fmt.Fprintf(&b, " %s=%s", v.Field.Name, v.Text())
		}
	}
	b.WriteByte('\n')
	_, err := s.w.WriteString(b.String())
	return err
}

func (s *textSink) Finish(lost []uint64) error {
	for cpu, n := range lost {
		if n > 0 {
			fmt.Fprintf(s.w, "# CPU %d: lost %d events\n", cpu, n)
		}
	}
	return s.w.Flush()
}

// seconds prints nanoseconds as the kernel's trace clock does: seconds
// with six decimals.
func seconds(ns uint64) string { return fmt.Sprintf("%d.%06d", ns/1e9, ns%1e9/1e3) }

// jsonSink writes one JSON object per line and event, its fields in the
// format file's order, then one "lost" object per CPU that lost events.
type jsonSink struct{ w *bufio.Writer }

func (s *jsonSink) Event(e *Event) error {
	s.w.WriteString(`{"type":"event","event":`)
	writeJSON(s.w, e.Format.Tracepoint.String())
	fmt.Fprintf(s.w, `,"time_ns":%d,"cpu":%d,"pid":%d,"tid":%d,"comm":`, e.Time, e.CPU, e.PID, e.TID)
	writeJSON(s.w, e.Comm)
	s.w.WriteString(`,"fields":`)
	writeFields(s.w, e.Fields(), true)
	_, err := s.w.WriteString("}\n")
	return err
}

func (s *jsonSink) Finish(lost []uint64) error {
	for cpu, n := range lost {
		if n > 0 {
			fmt.Fprintf(s.w, `{"type":"lost","cpu":%d,"count":%d}`+"\n", cpu, n)
		}
	}
	return s.w.Flush()
}

// writeFields writes fields as one JSON object in their order.
func writeFields(w *bufio.Writer, fields []Value, common bool) {
	w.WriteByte('{')
	first := true
	for _, v := range fields {
		if v.Field.Common && !common {
			continue
		}
		if !first {
			w.WriteByte(',')
		}
		first = false
		writeJSON(w, v.Field.Name)
		w.WriteByte(':')
		writeJSON(w, v.JSON())
	}
	w.WriteByte('}')
}

func writeJSON(w *bufio.Writer, v any) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only numbers, strings and slices of numbers reach here, which
		// always encode; null keeps the line valid JSON regardless.
		w.WriteString("null")
		return
	}
	w.WriteString(strings.TrimSuffix(b.String(), "\n"))
}
