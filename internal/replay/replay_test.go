package replay_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/ebt"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/replay"
	"github.com/ebtrace/ebtrace/internal/source"
)

// recording is a recording of sys_enter_write events with the given
// counts, one every 300 ms from a start of 10 s, all by "w" (tid 7) on
// CPU 1; it needs no kernel.
func recording(t *testing.T, counts ...uint64) *ebt.Reader {
	t.Helper()
	text, err := os.ReadFile("../kerneltest/testdata/tracefs/events/syscalls/sys_enter_write/format")
	if err != nil {
		t.Fatal(err)
	}
	f, err := kernel.ParseFormat(string(text))
	if err != nil {
		t.Fatal(err)
	}
	f.Category = "syscalls"
	count, _ := f.Field("count")
	var file bytes.Buffer
	w := ebt.NewWriter(&file)
	start := uint64(10 * time.Second)
	if err := w.Header(ebt.Header{Release: "test", Start: start, CPUs: 2, Formats: []ebt.FormatText{{Tracepoint: f.Tracepoint, Text: string(text)}}}); err != nil {
		t.Fatal(err)
	}
	at := start
	for _, c := range counts {
		at += uint64(300 * time.Millisecond)
		raw := make([]byte, count.Offset+8)
		binary.LittleEndian.PutUint16(raw, uint16(f.ID))
		binary.LittleEndian.PutUint32(raw[4:], 7)
		binary.LittleEndian.PutUint64(raw[count.Offset:], c)
		if err := w.Event(&ebt.Event{Format: f, Time: at, CPU: 1, PID: 7, TID: 7, Comm: "w", Raw: raw}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(at + uint64(time.Second)); err != nil {
		t.Fatal(err)
	}
	rec, err := ebt.NewReader(&file)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func run(t *testing.T, rec *ebt.Reader, src string) (string, int) {
	t.Helper()
	res, err := replay.Compile(source.NewFile("t.bt", src), rec.Header(), compile.Options{Plan: plan.DefaultOptions})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := replay.Run(res, rec, output.NewText(&out), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// Interval probes run on the recording's clock, between the events due
// before and after them, and until the recording stopped; BEGIN and END
// run around them; the helpers see each event's task and time.
func TestReplayClock(t *testing.T) {
	rec := recording(t, 1, 2, 3, 4, 5, 6, 7)
	got, code := run(t, rec, `BEGIN { printf("begin %d\n", elapsed); }
tracepoint:syscalls:sys_enter_write { @n = count(); @sum = sum(args.count); printf("%s %d %d cpu%d %d ms\n", comm, pid, args.count, cpu, elapsed / 1000000); }
interval:s:1 { printf("tick: %d writes\n", @n); }
END { printf("end\n"); }`)
	want := `begin 0
w 7 1 cpu1 300 ms
w 7 2 cpu1 600 ms
w 7 3 cpu1 900 ms
tick: 3 writes
w 7 4 cpu1 1200 ms
w 7 5 cpu1 1500 ms
w 7 6 cpu1 1800 ms
tick: 6 writes
w 7 7 cpu1 2100 ms
tick: 7 writes
end


@n: 7
@sum: 28
`
	if got != want || code != 0 {
		t.Errorf("exit %d, got:\n%s\nwant:\n%s", code, got, want)
	}
}

// exit() ends the replay at once: no event after it runs, END does.
func TestReplayExit(t *testing.T) {
	rec := recording(t, 1, 2, 3, 4)
	got, code := run(t, rec, `tracepoint:syscalls:sys_enter_write { @n = count(); if (args.count == 2) { exit(3); } } END { printf("end %d\n", @n); }`)
	if want := "end 2\n\n\n@n: 2\n"; got != want || code != 3 {
		t.Errorf("exit %d, got:\n%q\nwant exit 3 and:\n%q", code, got, want)
	}
}
