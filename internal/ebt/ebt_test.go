package ebt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// formatText is a format file as tracefs shows one, for an event of the
// given name and ID with an int, a fixed string and a dynamic string.
func formatText(name string, id uint32) string {
	return fmt.Sprintf(`name: %s
ID: %d
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int value;	offset:8;	size:4;	signed:1;
	field:char label[8];	offset:12;	size:8;	signed:0;
	field:__data_loc char[] path;	offset:20;	size:4;	signed:0;

print fmt: "value=%%d label=%%s path=%%s", REC->value, REC->label, __get_str(path)
`, name, id)
}

// raw lays out a record of formatText's event id.
func raw(id uint16, tid int32, value int32, label, path string) []byte {
	b := make([]byte, 24, 24+len(path)+1)
	binary.LittleEndian.PutUint16(b, id)
	binary.LittleEndian.PutUint32(b[4:], uint32(tid))
	binary.LittleEndian.PutUint32(b[8:], uint32(value))
	copy(b[12:20], label)
	binary.LittleEndian.PutUint32(b[20:], uint32(len(path)+1)<<16|24)
	return append(append(b, path...), 0)
}

func testHeader() Header {
	return Header{
		Release: "6.18.0-test", Machine: "x86_64", Hostname: "box", BTF: "sha256:0123456789abcdef",
		Start: 1_000_000_000, RealtimeOffset: 1_700_000_000_000_000_000, CPUs: 4,
		Formats: []FormatText{
			{kernel.Tracepoint{Category: "test", Name: "first"}, formatText("first", 700)},
			{kernel.Tracepoint{Category: "test", Name: "second"}, formatText("second", 701)},
			{kernel.Tracepoint{Category: "other", Name: "unused"}, formatText("unused", 702)},
		},
	}
}

// sample is the events testRecording writes, with their formats' IDs.
type sample struct {
	id            uint32
	time          uint64
	cpu, pid, tid int
	comm          string
	value         int32
	label, path   string
	lostCPU       int // lost events written after this one, on lostCPU
	lost          uint64
}

var samples = []sample{
	{id: 700, time: 1_000_000_100, cpu: 0, pid: 42, tid: 42, comm: "init", value: -1, label: "a", path: "/etc/hostname"},
	{id: 701, time: 1_000_000_200, cpu: 3, pid: 42, tid: 43, comm: "worker", value: 7, label: "eightchr", path: ""},
	{id: 700, time: 1_000_000_300, cpu: 1, pid: 42, tid: 42, comm: "renamed", value: 1 << 30, label: "", path: "x", lostCPU: 3, lost: 5},
	{id: 700, time: 1_000_000_400, cpu: 1, pid: 42, tid: 42, comm: "renamed", value: 0, label: "b", path: "y", lostCPU: 3, lost: 2},
	{id: 701, time: 1_000_000_500, cpu: 2, pid: 9, tid: 9, comm: "", value: 3, label: "c", path: "z", lostCPU: 0, lost: 1},
}

const stop = 1_000_001_000

// testRecording writes testHeader and samples.
func testRecording(t testing.TB) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	h := testHeader()
	if err := w.Header(h); err != nil {
		t.Fatal(err)
	}
	formats := map[uint32]*kernel.Format{}
	for _, ft := range h.Formats {
		f, err := kernel.ParseFormat(ft.Text)
		if err != nil {
			t.Fatal(err)
		}
		formats[f.ID] = f
	}
	for _, s := range samples {
		e := Event{Format: formats[s.id], Time: s.time, CPU: s.cpu, PID: s.pid, TID: s.tid, Comm: s.comm,
			Raw: raw(uint16(s.id), int32(s.tid), s.value, s.label, s.path)}
		if err := w.Event(&e); err != nil {
			t.Fatal(err)
		}
		if s.lost > 0 {
			if err := w.Lost(s.lostCPU, s.lost); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(stop); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads every event of a recording, as text lines that show each
// field decoded through the stored format.
func readAll(r *Reader) ([]string, error) {
	var lines []string
	for {
		e, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return lines, err
		}
		lines = append(lines, describe(e))
	}
}

func describe(e Event) string {
	value, _ := e.Format.Field("value")
	label, _ := e.Format.Field("label")
	path, _ := e.Format.Field("path")
	loc := binary.LittleEndian.Uint32(e.Raw[path.Offset:])
	str := e.Raw[loc&0xffff : loc&0xffff+loc>>16]
	return fmt.Sprintf("%s id=%d t=%d cpu=%d pid=%d tid=%d comm=%q common_pid=%d value=%d label=%q path=%q",
		e.Format.Tracepoint, e.Format.ID, e.Time, e.CPU, e.PID, e.TID, e.Comm,
		int32(binary.LittleEndian.Uint32(e.Raw[4:])),
		int32(binary.LittleEndian.Uint32(e.Raw[value.Offset:])),
		strings.TrimRight(string(e.Raw[label.Offset:label.Offset+label.Size]), "\x00"),
		strings.TrimSuffix(string(str), "\x00"))
}

var wantEvents = []string{
	`test:first id=700 t=1000000100 cpu=0 pid=42 tid=42 comm="init" common_pid=42 value=-1 label="a" path="/etc/hostname"`,
	`test:second id=701 t=1000000200 cpu=3 pid=42 tid=43 comm="worker" common_pid=43 value=7 label="eightchr" path=""`,
	`test:first id=700 t=1000000300 cpu=1 pid=42 tid=42 comm="renamed" common_pid=42 value=1073741824 label="" path="x"`,
	`test:first id=700 t=1000000400 cpu=1 pid=42 tid=42 comm="renamed" common_pid=42 value=0 label="b" path="y"`,
	`test:second id=701 t=1000000500 cpu=2 pid=9 tid=9 comm="" common_pid=9 value=3 label="c" path="z"`,
}

func TestRoundTrip(t *testing.T) {
	data := testRecording(t)
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Header(), testHeader(); !reflect.DeepEqual(got, want) {
		t.Errorf("header\n%+v\nwant\n%+v", got, want)
	}
	var names []string
	for _, f := range r.Formats() {
		names = append(names, fmt.Sprintf("%s/%d/%d", f.Tracepoint, f.ID, len(f.Fields)))
	}
	if got := strings.Join(names, " "); got != "test:first/700/7 test:second/701/7 other:unused/702/7" {
		t.Errorf("formats %s", got)
	}
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(wantEvents, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantEvents, "\n"))
	}
	if lost := fmt.Sprint(r.Lost()); lost != "[1 0 0 7]" {
		t.Errorf("lost %s, want [1 0 0 7]", lost)
	}
	if r.Stop() != stop {
		t.Errorf("stop %d, want %d", r.Stop(), stop)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after the end: %v, want io.EOF", err)
	}
}

// The comm table costs one record per thread and name, not per event.
func TestCommRecords(t *testing.T) {
	data := testRecording(t)
	counts := map[uint32]int{}
	for _, rec := range records(t, data) {
		counts[rec.typ]++
	}
	// init, worker, renamed; the unnamed thread needs none.
	want := map[uint32]int{recHeader: 1, recFormat: 3, recComm: 3, recEvent: 5, recLost: 3, recEnd: 1}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("records by type %v, want %v", counts, want)
	}
}

type rec struct {
	typ  uint32
	off  int // of its head
	body []byte
}

// records splits a well-formed recording into its records.
func records(t *testing.T, data []byte) []rec {
	t.Helper()
	var out []rec
	for off := 12; off < len(data); {
		typ, size := binary.LittleEndian.Uint32(data[off:]), int(binary.LittleEndian.Uint32(data[off+4:]))
		out = append(out, rec{typ, off, data[off+8 : off+8+size]})
		off += 8 + size
	}
	return out
}

// A reader skips records of types it does not know, wherever they are,
// and bytes a later version appends to a known record.
func TestSkipsUnknown(t *testing.T) {
	data := testRecording(t)
	var out []byte
	out = append(out, data[:12]...)
	for i, r := range records(t, data) {
		unknown := binary.LittleEndian.AppendUint32(nil, uint32(100+i))
		unknown = binary.LittleEndian.AppendUint32(unknown, uint32(i*3))
		out = append(append(out, unknown...), bytes.Repeat([]byte{0xee}, i*3)...)
		body := r.body
		if r.typ == recHeader || r.typ == recLost || r.typ == recEnd {
			body = append(append([]byte{}, body...), "later"...)
		}
		out = binary.LittleEndian.AppendUint32(out, r.typ)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
		out = append(out, body...)
	}
	r, err := NewReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(wantEvents, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantEvents, "\n"))
	}
	if lost := fmt.Sprint(r.Lost()); lost != "[1 0 0 7]" {
		t.Errorf("lost %s", lost)
	}
}

// Every prefix of a recording reads as far as its whole events go, then
// fails with ErrTruncated (ErrNotEBT when not even the magic is there).
func TestTruncated(t *testing.T) {
	data := testRecording(t)
	recs := records(t, data)
	end := recs[len(recs)-1].off
	for n := range len(data) {
		r, err := NewReader(bytes.NewReader(data[:n]))
		var events []string
		if err == nil {
			events, err = readAll(r)
		}
		switch {
		case n < 8 && !errors.Is(err, ErrNotEBT):
			t.Fatalf("%d bytes: %v, want ErrNotEBT", n, err)
		case n >= 8 && !errors.Is(err, ErrTruncated):
			t.Fatalf("%d bytes: %v, want ErrTruncated", n, err)
		}
		whole := 0
		for _, r := range recs {
			if r.typ == recEvent && r.off+8+len(r.body) <= n {
				whole++
			}
		}
		if len(events) != whole {
			t.Fatalf("%d bytes: %d events, want the %d whole ones", n, len(events), whole)
		}
		if n == end && !strings.Contains(err.Error(), "no end record follows: the recording stopped before it was closed (5 events read)") {
			t.Errorf("without the end record: %v", err)
		}
	}
}

func TestBadFiles(t *testing.T) {
	data := testRecording(t)
	recs := records(t, data)
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(data)
		f(b)
		return b
	}
	endRec := recs[len(recs)-1]
	firstEvent := recs[5] // after the header, 3 formats and a comm
	if firstEvent.typ != recEvent {
		t.Fatalf("record 5 is of type %d", firstEvent.typ)
	}
	tests := []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"text", []byte("name: sys_enter_openat\nID: 1\n"), ErrNotEBT, "recording: not an ebtrace recording (.ebt)"},
		{"version", edit(func(b []byte) { b[8] = 2 }), ErrVersion, "recording: unsupported .ebt version 2: this ebtrace reads version 1 only (a newer ebtrace wrote it?)"},
		{"huge record", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[16:], maxBody+1) }), ErrCorrupt, "recording: recording is corrupt at byte 12: a record of 16777217 bytes"},
		{"event count", edit(func(b []byte) { b[endRec.off+8+8]++ }), ErrCorrupt,
			fmt.Sprintf("recording: recording is corrupt at byte %d: its end counts 6 events and 8 lost, its records 5 and 8", endRec.off)},
		{"event id", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[firstEvent.off+8+8:], 9) }), ErrCorrupt,
			fmt.Sprintf("recording: recording is corrupt at byte %d: an event of ID 9, which no format has", firstEvent.off)},
		{"byte order", edit(func(b []byte) { b[12+8+24] = 3 }), ErrCorrupt, "recording: recording is corrupt at byte 12: byte order 3 in the header"},
		{"format id", edit(func(b []byte) { b[recs[1].off+8]++ }), ErrCorrupt,
			fmt.Sprintf("recording: recording is corrupt at byte %d: the format stored for test:first (ID 701) is first's (ID 700)", recs[1].off)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.data))
			if err == nil {
				_, err = readAll(r)
			}
			if !errors.Is(err, tt.want) || err.Error() != tt.text {
				t.Errorf("got %v\nwant %s (%v)", err, tt.text, tt.want)
			}
		})
	}
}

func TestWriterMisuse(t *testing.T) {
	f, err := kernel.ParseFormat(formatText("first", 700))
	if err != nil {
		t.Fatal(err)
	}
	other, err := kernel.ParseFormat(formatText("other", 800))
	if err != nil {
		t.Fatal(err)
	}
	h := testHeader()
	tests := []struct {
		name string
		do   func(w *Writer) error
		want string
	}{
		{"event first", func(w *Writer) error { return w.Event(&Event{Format: f}) }, "ebt: a record before the header"},
		{"twice", func(w *Writer) error { w.Header(h); return w.Header(h) }, "ebt: Header called twice"},
		{"unknown format", func(w *Writer) error { w.Header(h); return w.Event(&Event{Format: other}) }, "ebt: an event whose format is not in the header"},
		{"after close", func(w *Writer) error { w.Header(h); w.Close(1); return w.Lost(0, 1) }, "ebt: a record after Close"},
		{"sticks", func(w *Writer) error { w.Header(h); w.Event(&Event{Format: other}); return w.Close(1) }, "ebt: an event whose format is not in the header"},
		{"duplicate id", func(w *Writer) error {
			return w.Header(Header{Formats: []FormatText{h.Formats[0], {kernel.Tracepoint{Category: "x", Name: "first"}, formatText("first", 700)}}})
		}, "ebt: event ID 700 given twice (x:first)"},
		{"wrong name", func(w *Writer) error {
			return w.Header(Header{Formats: []FormatText{{kernel.Tracepoint{Category: "test", Name: "second"}, formatText("first", 700)}}})
		}, "ebt: the format given for test:second is first's"},
		{"bad format", func(w *Writer) error {
			return w.Header(Header{Formats: []FormatText{{kernel.Tracepoint{Category: "test", Name: "x"}, "ID: 3\n"}}})
		}, "ebt: format of test:x: format: no name line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(NewWriter(io.Discard)); err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// An empty recording still names its events.
func TestEmptyRecording(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.ebt")
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Header(testHeader()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(stop); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Formats()) != 3 {
		t.Errorf("%d formats", len(r.Formats()))
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next: %v, want io.EOF", err)
	}
	if fmt.Sprint(r.Lost()) != "[0 0 0 0]" || r.Stop() != stop {
		t.Errorf("lost %v, stop %d", r.Lost(), r.Stop())
	}
}

func FuzzReader(f *testing.F) {
	f.Add(testRecording(f))
	f.Add(append(magic[:], 1, 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for range 1 << 16 {
			e, err := r.Next()
			if err != nil {
				return
			}
			if e.Format == nil {
				t.Fatal("an event without a format")
			}
		}
	})
}

// BenchmarkReadEvents reads a recording of a million events of a
// syscall's size, the size a replay must finish in well under 2 s.
func BenchmarkReadEvents(b *testing.B) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	h := testHeader()
	if err := w.Header(h); err != nil {
		b.Fatal(err)
	}
	f, err := kernel.ParseFormat(h.Formats[0].Text)
	if err != nil {
		b.Fatal(err)
	}
	const events = 1_000_000
	e := Event{Format: f, PID: 1, TID: 1, Comm: "bench", Raw: raw(700, 1, 5, "label", "/some/path/of/a/file")}
	for i := range events {
		e.Time, e.CPU = uint64(i), i%4
		if err := w.Event(&e); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(events); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != events {
			b.Fatalf("%d events", n)
		}
	}
}
