package engine_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/engine"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// write is one sys_enter_write event of the test workload.
type write struct {
	comm  string
	cpu   int
	count uint64
}

var writes = []write{
	{"alpha", 0, 1}, {"alpha", 1, 100}, {"beta", 1, 5}, {"alpha", 0, 1000}, {"beta", 0, 4096},
}

// compileScript compiles script against the fake tracefs and builds its
// collection in the engine with two CPUs.
func compileScript(t testing.TB, script string) (*compile.Result, *engine.Collection) {
	t.Helper()
	res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), script, compile.Options{Plan: plan.DefaultOptions})
	coll, err := engine.NewCollection(res.Spec(), 2)
	if err != nil {
		t.Fatal(err)
	}
	return res, coll
}

// record returns the raw trace record of sys_enter_write as the kernel's
// trace buffer holds it, laid out by the event's format file.
func record(t testing.TB, f *kernel.Format, tid uint32, fd, count uint64) []byte {
	t.Helper()
	size := 0
	for _, fld := range f.Fields {
		size = max(size, fld.Offset+fld.Size)
	}
	rec := make([]byte, size)
	put := func(name string, v uint64) {
		for _, fld := range f.Fields {
			if fld.Name == name {
				binary.LittleEndian.PutUint64(rec[fld.Offset:], v) // every field set here is 8 bytes wide, or followed by padding
				return
			}
		}
		t.Fatalf("%s has no field %s", f.Tracepoint, name)
	}
	binary.LittleEndian.PutUint16(rec, uint16(f.ID))
	binary.LittleEndian.PutUint32(rec[4:], tid)
	put("fd", fd)
	put("count", count)
	return rec
}

func writeFormat(t testing.TB) *kernel.Format {
	t.Helper()
	f, err := kerneltest.Fake().Format("syscalls", "sys_enter_write")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func envOf(w write, tid uint32) *engine.Env {
	env := &engine.Env{CPU: w.cpu, TGID: tid, PID: tid}
	copy(env.Comm[:], w.comm)
	return env
}

// sum adds up a key's u64 value over every CPU.
func sum(m *engine.Map, key []byte) uint64 {
	n := uint64(0)
	for _, v := range m.Values(key) {
		n += binary.LittleEndian.Uint64(v)
	}
	return n
}

func TestScriptCountAndHist(t *testing.T) {
	res, coll := compileScript(t, `tracepoint:syscalls:sys_enter_write { @[comm] = count(); @h = hist(args.count); }`)
	f := writeFormat(t)
	prog := coll.Programs[res.Programs[0].Name]
	for i, w := range writes {
		if _, err := prog.Run(record(t, f, uint32(100+i), 1, w.count), envOf(w, uint32(100+i))); err != nil {
			t.Fatal(err)
		}
	}
	var counts, hist *engine.Map
	for _, m := range res.Plan.Maps {
		switch m.Name {
		case "":
			counts = coll.Maps[m.BPFName]
		case "h":
			hist = coll.Maps[m.BPFName]
		}
	}
	if counts.Len() != 2 {
		t.Errorf("@ has %d keys, want 2", counts.Len())
	}
	for comm, want := range map[string]uint64{"alpha": 3, "beta": 2} {
		key := make([]byte, counts.KeySize())
		copy(key, comm)
		if got := sum(counts, key); got != want {
			t.Errorf("@[%s] = %d, want %d", comm, got, want)
		}
	}
	// hist's default buckets: 0 for negative values, then 0, 1, and
	// each power of two [2^k, 2^(k+1)) at k+2; the bucket ends the key.
	want := map[uint64]uint64{}
	for _, w := range writes {
		want[uint64(bits.Len64(w.count)+1)]++
	}
	got := map[uint64]uint64{}
	hist.Iterate(func(key []byte, _ [][]byte) bool {
		got[binary.LittleEndian.Uint64(key[len(key)-8:])] = sum(hist, key)
		return true
	})
	if len(got) != len(want) {
		t.Errorf("@h buckets %v, want %v", got, want)
	}
	for b, n := range want {
		if got[b] != n {
			t.Errorf("@h bucket %d: %d, want %d", b, got[b], n)
		}
	}
}

func TestScriptPrintfPredicate(t *testing.T) {
	res, coll := compileScript(t, `tracepoint:syscalls:sys_enter_write /comm == "alpha"/ { printf("%s %d %d\n", comm, args.count, tid); }`)
	f := writeFormat(t)
	prog := coll.Programs[res.Programs[0].Name]
	for i, w := range writes {
		if _, err := prog.Run(record(t, f, uint32(100+i), 1, w.count), envOf(w, uint32(100+i))); err != nil {
			t.Fatal(err)
		}
	}
	ev := res.Plan.Events[0]
	var got []write
	for _, rec := range coll.Maps[plan.EventsMap].Records() {
		if len(rec) != ev.Size || binary.LittleEndian.Uint64(rec) != uint64(ev.ID) {
			t.Fatalf("record %x: want %d bytes of event %d", rec, ev.Size, ev.ID)
		}
		comm := rec[ev.Args[0].Offset : ev.Args[0].Offset+16]
		got = append(got, write{
			comm:  string(comm[:bytes.IndexByte(comm, 0)]),
			count: binary.LittleEndian.Uint64(rec[ev.Args[1].Offset:]),
			cpu:   int(binary.LittleEndian.Uint64(rec[ev.Args[2].Offset:])), // the tid, here
		})
	}
	want := []write{{"alpha", 100, 1}, {"alpha", 101, 100}, {"alpha", 103, 1000}}
	if len(got) != len(want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestScriptUnsupported checks that a script needing the kernel's stacks
// is refused with the helper's name and the script position.
func TestScriptUnsupported(t *testing.T) {
	res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), `tracepoint:syscalls:sys_enter_write { @[kstack] = count(); }`, compile.Options{Plan: plan.DefaultOptions})
	_, err := engine.NewCollection(res.Spec(), 1)
	var e *engine.Error
	if !errors.As(err, &e) || !errors.Is(err, engine.ErrUnsupported) {
		t.Fatalf("error %v, want an *engine.Error wrapping ErrUnsupported", err)
	}
	if e.Source == nil || e.Source.String() != "test.bt:1:39" || !e.Insn.IsBuiltinCall() || e.Insn.Constant != int64(asm.FnGetStackid) {
		t.Errorf("error at %v (%v), want the call of bpf_get_stackid at test.bt:1:39", e.Source, e.Insn)
	}
	if !strings.HasSuffix(err.Error(), "not available in the user-space engine: helper bpf_get_stackid") {
		t.Errorf("error %q does not name the helper", err)
	}
}
