package tracer

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/symbols"
	"github.com/ebtrace/ebtrace/internal/types"
)

// symbolizer renders the parts of records and map keys that name code:
// ksym and usym addresses and kstack and ustack ids. It reads stack ids
// from their stack maps and resolves addresses through kallsyms and the
// processes' mappings, caching both.
type symbolizer struct {
	b      Backend
	plan   *plan.Plan
	kernel func() (*symbols.Table, error)
	// probed names the addresses of the kernel functions the script's
	// kprobes probe by the names it gave, over aliases at the same
	// address: built on first use.
	probed     map[uint64]string
	probedOnce sync.Once

	mu    sync.Mutex
	procs map[uint32]*symbols.Process
}

func newSymbolizer(b Backend) *symbolizer {
	return &symbolizer{
		b: b, plan: b.Result().Plan, kernel: symbols.Kernel,
		procs: map[uint32]*symbols.Process{},
	}
}

// process returns the resolver of pid, reading its mappings (and the
// files they map) on first sight, while the process most likely still
// runs. The reading happens outside s.mu, so it delays no other process.
func (s *symbolizer) process(pid uint32) *symbols.Process {
	p, _ := s.loaded(pid)
	return p
}

// loaded is process, also reporting whether this call read the mappings.
func (s *symbolizer) loaded(pid uint32) (*symbols.Process, bool) {
	s.mu.Lock()
	p, ok := s.procs[pid]
	if !ok {
		p = symbols.NewProcess(int(pid))
		s.procs[pid] = p
	}
	s.mu.Unlock()
	if !ok {
		p.Load()
	}
	return p, !ok
}

// Watch reads pid's mappings now, so that its user addresses still resolve
// after it exits (the -c command, say), and reports whether they hold its
// program yet.
func (s *symbolizer) Watch(pid int) bool {
	p, read := s.loaded(uint32(pid))
	if !read {
		p.Load()
	}
	return p.MapsProgram()
}

// Frame is one resolved stack frame (and what Maps.Read gives of a stack
// with Maps.Frames set): Name is "" when no symbol covers Addr, Offset is Addr's
// distance from Name's start, Module is a user frame's mapped file.
type Frame struct {
	Addr   uint64
	Name   string
	Offset uint64
	Module string
}

// Indentation of stack frames in bpftrace and raw modes: map keys indent
// by four spaces, printf arguments by eight, as bpftrace does.
const (
	keyIndent    = "    "
	printfIndent = "        "
)

// render turns a Sym or Stack part into the text bpftrace shows for it; for
// stacks it also returns the function names, leaf first.
func (s *symbolizer) render(b []byte, t types.Type, indent string) (string, []string) {
	addr := binary.LittleEndian.Uint64(b)
	var pid uint32
	if t.Size == 16 {
		pid = uint32(binary.LittleEndian.Uint64(b[8:]))
	}
	if t.Kind == types.Sym {
		f := s.resolve(t.AddrSpace, pid, addr)
		if f.Name == "" {
			return symbols.Unknown(addr), nil
		}
		return f.Name, nil
	}
	id := int64(addr)
	if id < 0 {
		return "", nil // not recorded: counted in StatStacks
	}
	addrs := s.stack(t, uint32(id))
	if len(addrs) == 0 {
		return "", nil
	}
	var text strings.Builder
	names := make([]string, 0, len(addrs))
	text.WriteString("\n")
	for _, a := range addrs {
		f := s.resolve(t.AddrSpace, pid, a)
		text.WriteString(frameLine(t, f, indent))
		text.WriteString("\n")
		if f.Name == "" {
			names = append(names, symbols.Unknown(a))
		} else {
			names = append(names, f.Name)
		}
	}
	return text.String(), names
}

// frameLine lays one frame out in the stack's mode.
func frameLine(t types.Type, f Frame, indent string) string {
	switch t.StackMode {
	case "perf":
		name, module := "[unknown]", ""
		if f.Name != "" {
			name = symbols.Format(f.Name, f.Offset)
		}
		if t.AddrSpace == types.User {
			module = " (" + f.Module + ")"
			if f.Name == "" {
				name, module = symbols.Unknown(f.Addr), " ([unknown])"
			}
		}
		return fmt.Sprintf("\t%x %s%s", f.Addr, name, module)
	case "raw":
		return fmt.Sprintf("%s%x", indent, f.Addr)
	}
	if f.Name == "" {
		return indent + symbols.Unknown(f.Addr)
	}
	return indent + symbols.Format(f.Name, f.Offset)
}

func (s *symbolizer) resolve(space types.AddrSpace, pid uint32, addr uint64) Frame {
	f := Frame{Addr: addr}
	if space == types.User {
		if fr, ok := s.process(pid).Lookup(addr); ok {
			f.Name, f.Offset, f.Module = fr.Name, fr.Off, fr.Module
		}
		return f
	}
	tab, err := s.kernel()
	if err != nil {
		return f
	}
	if sym, ok := tab.Lookup(addr); ok {
		f.Name, f.Offset = sym.Name, addr-sym.Addr
		if name, ok := s.probedNames(tab)[sym.Addr]; ok {
			f.Name = name
		}
	}
	return f
}

// probedNames returns the addresses of the functions the script probes by
// name (probe.FunctionProber), with those names.
func (s *symbolizer) probedNames(tab *symbols.Table) map[uint64]string {
	s.probedOnce.Do(func() {
		want := map[string]bool{}
		for _, in := range s.b.Result().Info.Instances {
			if fp, ok := in.Instance.(probe.FunctionProber); ok {
				for _, name := range fp.Functions() {
					want[name] = true
				}
			}
		}
		s.probed = map[uint64]string{}
		if len(want) == 0 {
			return
		}
		for _, sym := range tab.Symbols() {
			if want[sym.Name] {
				s.probed[sym.Addr] = sym.Name
			}
		}
	})
	return s.probed
}

// frames reads a Stack part as its resolved frames, leaf first; a stack
// that was not recorded has none.
func (s *symbolizer) frames(b []byte, t types.Type) []Frame {
	var pid uint32
	if t.Size == 16 {
		pid = uint32(binary.LittleEndian.Uint64(b[8:]))
	}
	id := int64(binary.LittleEndian.Uint64(b))
	if id < 0 {
		return nil
	}
	addrs := s.stack(t, uint32(id))
	out := make([]Frame, len(addrs))
	for i, a := range addrs {
		out[i] = s.resolve(t.AddrSpace, pid, a)
	}
	return out
}

// stack reads the addresses of stack id, leaf first, from t's stack map.
func (s *symbolizer) stack(t types.Type, id uint32) []uint64 {
	sm := s.plan.StackMap(t)
	if sm == nil {
		return nil
	}
	buf, err := s.b.Map(sm.Name).Lookup(binary.NativeEndian.AppendUint32(nil, id))
	if err != nil {
		return nil
	}
	var addrs []uint64
	for i := 0; i < sm.Depth; i++ {
		a := binary.LittleEndian.Uint64(buf[8*i:])
		if a == 0 {
			break
		}
		addrs = append(addrs, a)
	}
	return addrs
}

// value decodes one record part, rendering symbols and stacks as text with
// stack frames indented by indent, or with frames set, stacks as []Frame,
// inside tuples too.
func (s *symbolizer) value(b []byte, t types.Type, indent string, frames bool) any {
	switch t.Kind {
	case types.Stack:
		if frames {
			return s.frames(b, t)
		}
		text, _ := s.render(b, t, indent)
		return text
	case types.Sym:
		text, _ := s.render(b, t, indent)
		return text
	case types.Tuple:
		fields := t.Fields()
		tuple := make(output.Tuple, len(fields))
		for i, f := range fields {
			tuple[i] = s.value(b[t.FieldOffset(i):], f, indent, frames)
		}
		if names := t.Names(); names != nil {
			return output.Record{Names: names, Values: tuple}
		}
		return tuple
	}
	if t.Kind == types.Text {
		return renderText(b, t)
	}
	return decode(b, t)
}
