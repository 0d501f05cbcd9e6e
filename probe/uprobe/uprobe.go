// Package uprobe provides uprobe:PATH:FUNC and uretprobe:PATH:FUNC probes
// on functions of user-space binaries, and owns what every user-space
// probe type shares: finding a binary by path, command or library name,
// reading its function symbols, turning addresses into the file offsets
// the kernel places uprobes at, and attaching. Functions are named by
// symbol (wildcards allowed), by symbol plus offset (FUNC+8) or by
// address (0x401136). Arguments come from the registers the calling
// convention passes them in.
package uprobe

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"ebtrace/probe"
	"ebtrace/probe/arch"
	"ebtrace/source"
	"ebtrace/types"
)

// Word is the type of a register-sized value in a user-space probe:
// arg0..argN, retval, 8-byte USDT arguments. bpftrace types these
// uint64; here they are addresses in the traced process, which behave as
// unsigned integers everywhere and make str(arg0) read the process's
// memory with the user-space read helper.
var Word = types.Pointer("void", types.User)

// Provider is the uprobe or the uretprobe probe type.
type Provider struct {
	names []string
	ret   bool
}

// Uprobe fires when a function starts; Uretprobe when it returns.
var (
	Uprobe    = Provider{names: []string{"uprobe", "u"}}
	Uretprobe = Provider{names: []string{"uretprobe", "ur"}, ret: true}
)

// Names implements probe.Provider.
func (p Provider) Names() []string { return p.names }

// Expand implements probe.Provider. Spec is PATH:FUNC, PATH:FUNC+OFFSET
// or PATH:ADDRESS; with -p, a lone FUNC names a function of that
// process's executable.
func (p Provider) Expand(spec string, env *probe.Env) ([]probe.Instance, error) {
	path, target, ok := strings.Cut(spec, ":")
	if !ok && env.PID != 0 {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", env.PID))
		if err != nil {
			return nil, fmt.Errorf("find the executable of process %d: %w", env.PID, err)
		}
		path, target = exe, spec
	}
	if path == "" || target == "" {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("%s %q must be PATH:FUNCTION", p.names[0], spec),
			Hints: []string{fmt.Sprintf("for example %s:/bin/bash:readline or %s:libc:malloc", p.names[0], p.names[0])},
		}
	}
	regs, err := arch.Host()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.names[0], err)
	}
	bin, err := Open(path, env.PID)
	if err != nil {
		return nil, err
	}
	defer bin.Close()
	fns, err := bin.Functions()
	if err != nil {
		return nil, err
	}
	base := instance{ret: p.ret, pid: env.PID, regs: regs, path: bin.Path}
	prefix := p.names[0] + ":" + bin.Path + ":"

	if addr, err := strconv.ParseUint(target, 0, 64); err == nil {
		return p.atAddress(bin, fns, addr, base, prefix)
	}
	fn, offText, hasOffset := strings.Cut(target, "+")
	if hasOffset {
		off, err := strconv.ParseUint(offText, 0, 64)
		if err != nil {
			return nil, &probe.Error{Msg: fmt.Sprintf("%q in %s:%s is not an offset", offText, p.names[0], spec), Hints: []string{"offsets are decimal or 0x hexadecimal: FUNCTION+16 or FUNCTION+0x10"}}
		}
		if p.ret && off != 0 {
			return nil, &probe.Error{Msg: fmt.Sprintf("%s:%s: a uretprobe must be placed at a function's first instruction, not at an offset", p.names[0], spec)}
		}
		sym, err := lookup(bin, fns, fn, p.names[0])
		if err != nil {
			return nil, err
		}
		if sym.Size > 0 && off >= sym.Size {
			return nil, &probe.Error{Msg: fmt.Sprintf("offset %d is past the end of %s, which is %d bytes long", off, fn, sym.Size)}
		}
		in := base
		in.name, in.fn = prefix+fn+"+"+strconv.FormatUint(off, 10), fn
		if in.offset, err = bin.CodeOffset(sym.Addr + off); err != nil {
			return nil, err
		}
		return []probe.Instance{&in}, nil
	}

	var matched []Symbol
	if strings.ContainsAny(target, "*?") {
		for _, s := range fns {
			if probe.Wildcard(target, s.Name) {
				matched = append(matched, s)
			}
		}
		if len(matched) == 0 {
			return nil, &probe.Error{
				Msg:   fmt.Sprintf("no function of %s matches %q", bin.Path, target),
				Hints: []string{listHint(bin.Path)},
			}
		}
	} else {
		sym, err := lookup(bin, fns, target, p.names[0])
		if err != nil {
			return nil, err
		}
		matched = []Symbol{sym}
	}
	out := make([]probe.Instance, 0, len(matched))
	for _, s := range matched {
		in := base
		in.name, in.fn = prefix+s.Name, s.Name
		if in.offset, err = bin.CodeOffset(s.Addr); err != nil {
			return nil, err
		}
		out = append(out, &in)
	}
	return out, nil
}

// atAddress makes the instance for a probe at a virtual address, as
// objdump and nm show addresses.
func (p Provider) atAddress(bin *Binary, fns []Symbol, addr uint64, in instance, prefix string) ([]probe.Instance, error) {
	var err error
	if in.offset, err = bin.CodeOffset(addr); err != nil {
		return nil, err
	}
	in.name = prefix + fmt.Sprintf("%#x", addr)
	for _, s := range fns {
		if s.Addr == addr || s.Addr < addr && addr < s.Addr+s.Size {
			in.fn = s.Name
			if s.Addr != addr {
				in.fn += "+" + strconv.FormatUint(addr-s.Addr, 10)
			}
		}
	}
	if p.ret && (in.fn == "" || strings.Contains(in.fn, "+")) {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("%s%#x: a uretprobe must be placed at a function's first instruction, and no function of %s starts there", prefix, addr, bin.Path),
			Hints: []string{listHint(bin.Path)},
		}
	}
	return []probe.Instance{&in}, nil
}

// lookup finds the function name, or says which names are close.
func lookup(bin *Binary, fns []Symbol, name, provider string) (Symbol, error) {
	names := make([]string, len(fns))
	for i, s := range fns {
		if s.Name == name {
			return s, nil
		}
		names[i] = s.Name
	}
	e := &probe.Error{Msg: fmt.Sprintf("function %q does not exist in %s", name, bin.Path)}
	if len(fns) == 0 {
		e.Hints = append(e.Hints, fmt.Sprintf("%s has no symbol table (is it stripped?); probe an address instead: %s:%s:0xADDRESS", bin.Path, provider, bin.Path))
		return Symbol{}, e
	}
	if close := source.Closest(name, names, 3); len(close) > 0 {
		e.Hints = append(e.Hints, "did you mean "+strings.Join(close, ", ")+"?")
	}
	e.Hints = append(e.Hints, listHint(bin.Path))
	return Symbol{}, e
}

func listHint(path string) string {
	return fmt.Sprintf("list its functions with: ebtrace -l 'uprobe:%s:*'", path)
}

// Probes implements probe.Provider: the function symbols of the binary the
// pattern names, e.g. "/bin/bash:read*". Listed names keep the binary as
// the pattern writes it, since the registry matches them against it.
func (p Provider) Probes(pattern string, env *probe.Env) ([]probe.Listing, error) {
	path, _, _ := strings.Cut(pattern, ":")
	if path == "" || strings.ContainsAny(path, "*?") {
		return nil, nil
	}
	bin, err := Open(path, env.PID)
	if err != nil {
		return nil, err
	}
	defer bin.Close()
	fns, err := bin.Functions()
	if err != nil {
		return nil, err
	}
	out := make([]probe.Listing, len(fns))
	for i, s := range fns {
		out[i] = probe.Listing{Name: p.names[0] + ":" + path + ":" + s.Name}
	}
	return out, nil
}

type instance struct {
	name   string
	path   string // the file attached to
	offset uint64 // file offset of the probed instruction
	fn     string // the function, the value of func
	ret    bool
	pid    int
	regs   *arch.Regs
}

func (i *instance) Name() string           { return i.name }
func (i *instance) Kind() probe.Kind       { return probe.Event }
func (i *instance) Program() probe.Program { return probe.Program{Type: ebpf.Kprobe} }
func (i *instance) Available() error       { return Available() }

func (i *instance) Arg(name string) (probe.Arg, error) {
	return probe.Arg{}, &probe.Error{
		Msg:   fmt.Sprintf("%s has no args.%s: argument names need DWARF debug information, which ebtrace does not read", i.name, name),
		Hints: []string{"use arg0, arg1, ... for the arguments in registers"},
	}
}

func (i *instance) Builtin(name string) (probe.Arg, bool) {
	switch {
	case name == "func" && i.fn != "":
		return probe.Arg{Type: types.String(len(i.fn) + 1), Text: i.fn}, true
	case name == "retval" && i.ret:
		return probe.Arg{Type: Word, Offset: i.regs.Ret}, true
	case strings.HasPrefix(name, "arg") && !i.ret:
		n, err := strconv.Atoi(name[3:])
		if err != nil {
			return probe.Arg{}, false
		}
		off, ok := i.regs.Arg(n)
		return probe.Arg{Type: Word, Offset: off}, ok
	}
	return probe.Arg{}, false
}

func (i *instance) Attach(prog *ebpf.Program) (io.Closer, error) {
	l, err := Attach(i.path, i.ret, prog, link.UprobeOptions{Address: i.offset, PID: i.pid})
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", i.name, err)
	}
	return l, nil
}
