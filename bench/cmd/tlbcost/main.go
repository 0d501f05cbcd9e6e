// Command tlbcost owns bench/README.md's measurement of what touching kernel
// memory costs a BPF program per event on this machine, and why the cost is
// the kernel's TLB rather than the instructions.
//
// Usage:
//
//	tlbcost [-rounds N] [-events N]
//
// It builds small programs by hand: an empty one, one that loads a value
// from an array map, one that loads the same value twice, one that loads
// from two array maps, one that loads from one and from four distinct pages
// of a large (vmalloc'd) map value, and one that looks a key up in a hash
// map. Each is measured two ways:
//
//   - cold: attached alone to syscalls:sys_enter_getppid while this process
//     calls getppid(2) -events times; the kernel's BPF statistics give its
//     run time per event. Every event follows a syscall entry, which with
//     PTI and no PCID has flushed the kernel's TLB entries.
//   - warm: the same instructions as a socket filter run -events times in
//     one BPF_PROG_TEST_RUN, a loop inside the kernel with no syscall
//     between runs, so the TLB stays warm.
//
// The programs take turns within each of -rounds rounds; the table gives
// each one's median and range (min-max) and its median's excess over the
// empty program's. It needs root.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// variant is one program body; maps are created once and shared.
type variant struct {
	name string
	body func(m *maps) asm.Instructions
}

type maps struct {
	a, b, big, hash *ebpf.Map
}

// bigValue is the size of the one value of the big array map: large
// enough that the kernel allocates it with vmalloc, in 4 KiB pages, so
// loads bigStride apart touch distinct pages.
const (
	bigValue  = 256 << 10
	bigStride = 64 << 10
)

// loads returns n loads from m's value, stride bytes apart.
func loads(m *ebpf.Map, n int, stride uint32) asm.Instructions {
	var insns asm.Instructions
	for i := range n {
		insns = append(insns,
			asm.LoadMapValue(asm.R1, m.FD(), uint32(i)*stride),
			asm.LoadMem(asm.R2, asm.R1, 0, asm.DWord))
	}
	return insns
}

var variants = []variant{
	{"empty", func(*maps) asm.Instructions { return nil }},
	{"1 array value load", func(m *maps) asm.Instructions { return loads(m.a, 1, 0) }},
	{"same value loaded twice", func(m *maps) asm.Instructions { return loads(m.a, 2, 0) }},
	{"2 array values (2 maps)", func(m *maps) asm.Instructions {
		return append(loads(m.a, 1, 0), loads(m.b, 1, 0)...)
	}},
	{"vmalloc'd value, 1 page", func(m *maps) asm.Instructions { return loads(m.big, 1, 0) }},
	{"vmalloc'd value, 4 pages", func(m *maps) asm.Instructions { return loads(m.big, 4, bigStride) }},
	{"hash map lookup", func(m *maps) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Imm(asm.R1, 1),
			asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),
			asm.LoadMapPtr(asm.R1, m.hash.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -8),
			asm.FnMapLookupElem.Call(),
		}
	}},
}

func main() {
	rounds := flag.Int("rounds", 9, "rounds; the programs take turns in each")
	events := flag.Int("events", 200000, "events per cold run and repetitions per warm run")
	flag.Parse()
	if err := run(*rounds, *events); err != nil {
		fmt.Fprintf(os.Stderr, "tlbcost: %v\n", err)
		os.Exit(1)
	}
}

func run(rounds, events int) error {
	m, err := newMaps()
	if err != nil {
		return err
	}
	defer m.Close()
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return fmt.Errorf("enabling BPF run-time statistics: %w", err)
	}
	defer stats.Close()

	cold := make([][]float64, len(variants))
	warm := make([][]float64, len(variants))
	for r := range rounds {
		order := make([]int, len(variants))
		for i := range order {
			order[i] = i
		}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			body := variants[i].body(m)
			c, err := coldRun(body, events)
			if err != nil {
				return fmt.Errorf("%s, cold: %w", variants[i].name, err)
			}
			w, err := warmRun(body, events)
			if err != nil {
				return fmt.Errorf("%s, warm: %w", variants[i].name, err)
			}
			cold[i] = append(cold[i], c)
			warm[i] = append(warm[i], w)
		}
	}

	fmt.Printf("%d rounds; cold: %d getppid events per run; warm: %d test runs per run\n", rounds, events, events)
	fmt.Printf("%-24s %10s %15s %7s %10s %13s %7s\n", "program", "cold ns", "cold min-max", "+cold", "warm ns", "warm min-max", "+warm")
	c0, w0 := median(cold[0]), median(warm[0])
	for i, v := range variants {
		c, w := median(cold[i]), median(warm[i])
		fmt.Printf("%-24s %10.1f %15s %+7.1f %10.1f %13s %+7.1f\n", v.name,
			c, span(cold[i]), c-c0, w, span(warm[i]), w-w0)
	}
	return nil
}

func newMaps() (*maps, error) {
	array := func() (*ebpf.Map, error) {
		return ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	}
	var m maps
	var err error
	if m.a, err = array(); err != nil {
		return nil, err
	}
	if m.b, err = array(); err != nil {
		m.Close()
		return nil, err
	}
	if m.big, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: bigValue, MaxEntries: 1}); err != nil {
		m.Close()
		return nil, err
	}
	if m.hash, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 8, ValueSize: 8, MaxEntries: 1024}); err != nil {
		m.Close()
		return nil, err
	}
	if err := m.hash.Put(uint64(1), uint64(1)); err != nil {
		m.Close()
		return nil, err
	}
	return &m, nil
}

func (m *maps) Close() {
	for _, x := range []*ebpf.Map{m.a, m.b, m.big, m.hash} {
		if x != nil {
			x.Close()
		}
	}
}

// program loads body followed by "return 0" as a program of type typ.
func program(typ ebpf.ProgramType, body asm.Instructions) (*ebpf.Program, error) {
	insns := append(slices.Clone(body), asm.Mov.Imm(asm.R0, 0), asm.Return())
	return ebpf.NewProgram(&ebpf.ProgramSpec{Type: typ, Instructions: insns, License: "GPL"})
}

// coldRun attaches body to sys_enter_getppid, makes events getppid calls
// and returns the program's run time per event.
func coldRun(body asm.Instructions, events int) (float64, error) {
	prog, err := program(ebpf.TracePoint, body)
	if err != nil {
		return 0, err
	}
	defer prog.Close()
	l, err := link.Tracepoint("syscalls", "sys_enter_getppid", prog, nil)
	if err != nil {
		return 0, err
	}
	for range events {
		unix.Getppid()
	}
	l.Close()
	s, err := prog.Stats()
	if err != nil {
		return 0, err
	}
	if s.RunCount == 0 {
		return 0, errors.New("the program never ran")
	}
	return float64(s.Runtime.Nanoseconds()) / float64(s.RunCount), nil
}

// warmRun runs body as a socket filter events times in one test run and
// returns the kernel's time per run.
func warmRun(body asm.Instructions, events int) (float64, error) {
	prog, err := program(ebpf.SocketFilter, body)
	if err != nil {
		return 0, err
	}
	defer prog.Close()
	_, d, err := prog.Benchmark(make([]byte, 64), events, nil)
	if err != nil {
		return 0, err
	}
	return float64(d) / float64(time.Nanosecond), nil
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func span(v []float64) string {
	return fmt.Sprintf("%.1f-%.1f", slices.Min(v), slices.Max(v))
}
