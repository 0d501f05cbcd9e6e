package bench

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
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

// replayEvents is the size of the recording BenchmarkReplay replays:
// issue 16's bar is a million events in under 2 s.
const replayEvents = 1_000_000

// BenchmarkReplay replays a recording of a million sys_enter_write events
// (eight processes, two CPUs) through `@[comm] = count()`, reading the
// file, running the engine and printing the map: what `ebtrace replay`
// does, without starting a process. It needs no root: the recording is
// made here, from the format file of this repository's fake tracefs.
func BenchmarkReplay(b *testing.B) {
	path := writeRecording(b, replayEvents)
	for b.Loop() {
		rec, err := ebt.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		res, err := replay.Compile(source.NewFile("bench.bt", `tracepoint:syscalls:sys_enter_write { @[comm] = count(); }`), rec.Header(), compile.Options{Plan: plan.DefaultOptions})
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := replay.Run(res, rec, output.NewText(&out), io.Discard); err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(out.Bytes(), []byte("@[proc7]: 125000\n")) {
			b.Fatalf("replay printed:\n%s", out.String())
		}
		rec.Close()
	}
	b.ReportMetric(float64(replayEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/replay")
}

// writeRecording writes a recording of n sys_enter_write events and
// returns its path.
func writeRecording(b *testing.B, n int) string {
	b.Helper()
	text, err := os.ReadFile("../internal/kerneltest/testdata/tracefs/events/syscalls/sys_enter_write/format")
	if err != nil {
		b.Fatal(err)
	}
	f := kernelFormat(b, string(text))
	f.Category = "syscalls" // a format file names its event, not its category
	path := filepath.Join(b.TempDir(), "bench.ebt")
	file, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := ebt.NewWriter(file)
	start := uint64(time.Second)
	if err := w.Header(ebt.Header{Release: "bench", Machine: "x86_64", Start: start, CPUs: 2,
		Formats: []ebt.FormatText{{Tracepoint: f.Tracepoint, Text: string(text)}}}); err != nil {
		b.Fatal(err)
	}
	raw := make([]byte, 48)
	binary.LittleEndian.PutUint16(raw, uint16(f.ID))
	for i := range n {
		tid := 1000 + i%8
		binary.LittleEndian.PutUint32(raw[4:], uint32(tid))
		e := ebt.Event{Format: f, Time: start + uint64(i)*1000, CPU: i % 2, PID: tid, TID: tid, Comm: "proc" + string(rune('0'+i%8)), Raw: raw}
		if err := w.Event(&e); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(start + uint64(n)*1000); err != nil {
		b.Fatal(err)
	}
	if err := file.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

func kernelFormat(b *testing.B, text string) *kernel.Format {
	b.Helper()
	f, err := kernel.ParseFormat(text)
	if err != nil {
		b.Fatal(err)
	}
	return f
}
