// Package kprobe provides kprobe:FUNC and kretprobe:FUNC probes on kernel
// functions: arg0.. from the saved argument registers (probe/arch says
// where struct pt_regs keeps them), retval on return, and func. Specs may
// name a module (kprobe:ext4:ext4_file_open), an offset into the function
// (kprobe:vfs_read+16) or a wildcard (kprobe:vfs_*, one program for all
// the functions, through a multi-kprobe link where the kernel has them).
// Functions come from /proc/kallsyms, minus the code the kernel refuses to
// probe; listing prefers available_filter_functions when it is readable.
package kprobe

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/arch"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Provider is kprobe or kretprobe.
type Provider struct {
	ret   bool
	names []string
}

// Kprobe fires when a kernel function starts, Kretprobe when it returns.
var (
	Kprobe    = Provider{names: []string{"kprobe", "k"}}
	Kretprobe = Provider{ret: true, names: []string{"kretprobe", "kr"}}
)

// Names implements probe.Provider.
func (p Provider) Names() []string { return p.names }

// Target is a parsed attach spec on a kernel function:
// [MODULE:]FUNC[+OFFSET].
type Target struct {
	Module     string // "" when the spec names none
	Func       string // may hold wildcards (package glob)
	Offset     uint64
	OffsetText string // as written, "" when there is no offset
}

// Wildcard reports whether t names functions or modules by pattern.
func (t Target) Wildcard() bool { return glob.HasMeta(t.Module) || glob.HasMeta(t.Func) }

// ParseTarget parses the spec after "KIND:" for a probe type on kernel
// functions; only kprobe takes an offset. Problems are *probe.Error.
func ParseTarget(kind, spec string) (Target, error) {
	example := &probe.Error{Hints: []string{"for example " + kind + ":vfs_read, " + kind + ":ext4:ext4_file_open or " + kind + ":vfs_*"}}
	if kind == "kprobe" {
		example.Hints[0] = "for example kprobe:vfs_read, kprobe:vfs_read+16, kprobe:ext4:ext4_file_open or kprobe:vfs_*"
	}
	fail := func(format string, args ...any) (Target, error) {
		example.Msg = fmt.Sprintf(format, args...)
		return Target{}, example
	}
	var t Target
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 1:
		t.Func = parts[0]
	case 2:
		t.Module, t.Func = parts[0], parts[1]
		if err := probe.CheckPattern(kind+":"+spec, t.Module); err != nil {
			return Target{}, err
		}
		if !validName(t.Module, "-") {
			return fail("%s:%s: %q is not a module name", kind, spec, t.Module)
		}
	default:
		return fail("%s:%s has too many parts: want %s:[MODULE:]FUNCTION", kind, spec, kind)
	}
	if fn, off, ok := strings.Cut(t.Func, "+"); ok {
		n, err := strconv.ParseUint(off, 0, 64)
		switch {
		case kind != "kprobe":
			return fail("%s:%s: offsets apply to kprobe only, not %s", kind, spec, kind)
		case err != nil:
			return fail("kprobe:%s: offset %q is not a number", spec, off)
		}
		t.Func, t.Offset, t.OffsetText = fn, n, off
	}
	if t.Func == "" {
		return fail("%s:%s names no function", kind, spec)
	}
	if err := probe.CheckPattern(kind+":"+spec, t.Func); err != nil {
		return Target{}, err
	}
	if !validName(t.Func, ".") {
		return fail("%s:%s: %q is not a kernel function name", kind, spec, t.Func)
	}
	if t.OffsetText != "" && t.Wildcard() {
		return fail("kprobe:%s: an offset needs one function, not a wildcard", spec)
	}
	return t, nil
}

// validName reports whether the pattern s is not empty and matches
// literally only identifier characters and the extra characters given.
func validName(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, c := range glob.Literals(s) {
		ok := c == '_' || strings.ContainsRune(extra, c) ||
			c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// Expand implements probe.Provider.
func (p Provider) Expand(spec string, env *probe.Env) ([]probe.Instance, error) {
	kind := p.names[0]
	t, err := ParseTarget(kind, spec)
	if err != nil {
		return nil, err
	}
	tab, err := tableFor(env)
	if err != nil {
		return nil, err
	}
	if t.Wildcard() {
		matches := tab.match(t.Module, t.Func)
		if len(matches) == 0 {
			if err := unavailable(kind+":"+spec, "", p.ret, env); err != nil {
				return nil, err
			}
			return nil, &probe.Error{
				Msg:     fmt.Sprintf("%s:%s matches no kernel function", kind, spec),
				Hints:   []string{fmt.Sprintf("list them with: ebtrace -l '%s:*'", kind)},
				Missing: true,
			}
		}
		var members []*instance
		seen := map[string]bool{}
		for _, f := range matches {
			if seen[f.Name] {
				continue // one symbol name, attached once
			}
			seen[f.Name] = true
			module := t.Module
			if glob.HasMeta(module) {
				module = cmp.Or(f.Module, "vmlinux")
			}
			members = append(members, p.instance(module, f.Name, "", 0, env))
		}
		if len(members) == 1 {
			return []probe.Instance{members[0]}, nil
		}
		return []probe.Instance{newGroup(p, spec, members, env)}, nil
	}
	f, ok := tab.lookup(t.Module, t.Func)
	if !ok {
		// Where kprobes are missing that is the reason to give, not
		// the function.
		if err := unavailable(kind+":"+spec, t.Func, p.ret, env); err != nil {
			return nil, err
		}
		return nil, notFound(kind, spec, t, tab)
	}
	if f.Blocked {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("%s:%s: the kernel does not allow kprobes on %s (entry, noinstr, init or kprobe-blacklisted code)", kind, spec, t.Func),
			Hints: []string{"probe a function it calls, or a tracepoint"},
		}
	}
	if tab.untraceable(f) {
		return nil, &probe.Error{
			Msg:     fmt.Sprintf("%s:%s: the kernel cannot probe %s: available_filter_functions does not list it (notrace, or inlined into its callers)", kind, spec, t.Func),
			Hints:   []string{"probe a function that calls it, or a tracepoint of the same event"},
			Missing: true,
		}
	}
	if t.OffsetText != "" && f.Size > 0 && t.Offset >= f.Size {
		return nil, &probe.Error{Msg: fmt.Sprintf("kprobe:%s: offset %d is past the end of %s, which is %d bytes long", spec, t.Offset, t.Func, f.Size)}
	}
	return []probe.Instance{p.instance(t.Module, t.Func, t.OffsetText, t.Offset, env)}, nil
}

func (p Provider) instance(module, fn, offsetText string, offset uint64, env *probe.Env) *instance {
	name := p.names[0] + ":"
	if module != "" {
		name += module + ":"
	}
	name += fn
	if offsetText != "" {
		name += "+" + offsetText
	}
	return &instance{ret: p.ret, name: name, fn: fn, offset: offset, env: env}
}

func notFound(kind, spec string, t Target, tab *table) error {
	e := &probe.Error{Msg: fmt.Sprintf("%s:%s: no kernel function %s", kind, spec, t.Func), Missing: true}
	if t.Module != "" {
		e.Msg += " in module " + t.Module
		if _, ok := tab.lookup("", t.Func); ok {
			e.Hints = append(e.Hints, fmt.Sprintf("%s is in another module: try %s:%s", t.Func, kind, t.Func))
			return e
		}
	}
	e.Suggest(t.Func, tab.names())
	e.Hints = append(e.Hints, fmt.Sprintf("list kernel functions with: ebtrace -l '%s:*'", kind))
	return e
}

// Probes implements probe.Provider.
func (p Provider) Probes(_ string, env *probe.Env) ([]probe.Listing, error) {
	tab, err := tableFor(env)
	if err != nil {
		return nil, err
	}
	out := make([]probe.Listing, len(tab.listed))
	for i, f := range tab.listed {
		name := p.names[0] + ":" + f.Name
		if f.Module != "" {
			name = p.names[0] + ":" + f.Module + ":" + f.Name
		}
		out[i] = probe.Listing{Name: name}
	}
	return out, nil
}

type instance struct {
	ret    bool
	name   string // canonical probe name
	fn     string
	offset uint64
	env    *probe.Env
}

func (i *instance) Name() string           { return i.name }
func (i *instance) Kind() probe.Kind       { return probe.Event }
func (i *instance) Program() probe.Program { return probe.Program{Type: ebpf.Kprobe} }

// OverridesReturn implements probe.ReturnOverrider: a kprobe on a
// function's entry may override its return value, a kretprobe may not.
func (i *instance) OverridesReturn() bool { return !i.ret }

func (i *instance) Arg(string) (probe.Arg, error) {
	builtins := "arg0, arg1, ... and func"
	if i.ret {
		builtins = "retval and func"
	}
	return probe.Arg{}, &probe.Error{
		Msg:   fmt.Sprintf("%s has no args: a kprobe sees registers, not named arguments", i.name),
		Hints: []string{"use " + builtins + ", or fentry:" + i.fn + " for arguments by name"},
	}
}

// Functions implements probe.FunctionProber.
func (i *instance) Functions() []string { return []string{i.fn} }

// Builtin gives arg0.. (kprobe) or retval (kretprobe) as 64-bit registers
// read from struct pt_regs, and func as the function's symbol, as a
// wildcard's members give it, so that one map can key on func from both
// (a kernel without bpf_get_func_ip gets the name as a string).
func (i *instance) Builtin(name string) (probe.Arg, bool) {
	if name == "func" {
		if haveFuncIP() {
			return funcAddress, true
		}
		return probe.Arg{Type: types.String(len(i.fn) + 1), Text: i.fn}, true
	}
	regs, err := arch.Host()
	if err != nil {
		return probe.Arg{}, false
	}
	if name == "retval" {
		return probe.Arg{Type: types.UInt64, Offset: regs.Ret}, i.ret
	}
	n, ok := strings.CutPrefix(name, "arg")
	index, err := strconv.Atoi(n)
	if !ok || err != nil || i.ret || strconv.Itoa(index) != n {
		return probe.Arg{}, false
	}
	off, ok := regs.Arg(index)
	return probe.Arg{Type: types.UInt64, Offset: off}, ok
}

// Attach implements probe.Instance.
func (i *instance) Attach(prog *ebpf.Program) (io.Closer, error) {
	var l link.Link
	var err error
	if i.ret {
		l, err = link.Kretprobe(i.fn, prog, nil)
	} else {
		l, err = link.Kprobe(i.fn, prog, &link.KprobeOptions{Offset: i.offset})
	}
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", i.name, err)
	}
	return l, nil
}
