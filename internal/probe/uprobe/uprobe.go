// Package uprobe provides uprobe:PATH:FUNC and uretprobe:PATH:FUNC probes
// on functions of user-space binaries, and owns what every user-space
// probe type shares: finding a binary by path, command or library name,
// reading its function symbols, turning addresses into the file offsets
// the kernel places uprobes at, and attaching. Functions are named by
// symbol (wildcards allowed), by symbol plus offset (FUNC+8), by address
// (0x401136), or, after bpftrace's language prefix cpp: (or c++:), by
// C++ name without parameters (cpp:ns::add, cpp:Shape::*), which names
// every overload. A probe is named by the symbol it is placed at (mangled,
// for C++), and the func builtin shows a C++ function demangled, with its
// parameters. Arguments come from the registers the calling convention
// passes them in.
package uprobe

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/arch"
	"github.com/ebtrace/ebtrace/internal/symbols"
	"github.com/ebtrace/ebtrace/internal/types"
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

// Expand implements probe.Provider. Spec is PATH:FUNC, PATH:FUNC+OFFSET,
// PATH:ADDRESS or PATH:cpp:NAME; with -p, a lone FUNC or cpp:NAME names a
// function of that process's executable.
func (p Provider) Expand(spec string, env *probe.Env) ([]probe.Instance, error) {
	path, target, ok := strings.Cut(spec, ":")
	if _, _, isCPP := cppSpec(spec); isCPP && env.PID != 0 {
		ok = false // cpp:NAME, a function of the process's executable
	}
	if !ok && env.PID != 0 {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", env.PID))
		if err != nil {
			return nil, fmt.Errorf("find the executable of process %d: %w", env.PID, err)
		}
		path, target = exe, spec
	}
	lang, cppName, isCPP := cppSpec(target)
	if path == "" || target == "" || isCPP && cppName == "" {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("%s %q must be PATH:FUNCTION or PATH:cpp:FUNCTION", p.names[0], spec),
			Hints: []string{fmt.Sprintf("for example %s:/bin/bash:readline, %s:libc:malloc or %s:/opt/app:cpp:ns::Class::method", p.names[0], p.names[0], p.names[0])},
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
	if hasOffset && !isCPP {
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
		in.name, in.fn = prefix+fn+"+"+strconv.FormatUint(off, 10), symbols.Demangle(fn)
		if in.offset, err = bin.CodeOffset(sym.Addr + off); err != nil {
			return nil, err
		}
		return []probe.Instance{&in}, nil
	}

	var matched []Symbol
	switch {
	case isCPP:
		if matched, err = matchCPP(bin, fns, lang, cppName, p.names[0]); err != nil {
			return nil, err
		}
	case glob.HasMeta(target) && !slices.ContainsFunc(fns, func(s Symbol) bool { return s.Name == target }):
		// A symbol named exactly so is that symbol: Go generic functions
		// and C++ operators have brackets in their names.
		if err := probe.CheckPattern(p.names[0]+":"+spec, target); err != nil {
			return nil, err
		}
		for _, s := range fns {
			if glob.Match(target, s.Name) {
				matched = append(matched, s)
			}
		}
		if len(matched) == 0 {
			return nil, &probe.Error{
				Msg:     fmt.Sprintf("no function of %s matches %q", bin.Path, target),
				Hints:   []string{listHint(bin.Path, "")},
				Missing: true,
			}
		}
	default:
		sym, err := lookup(bin, fns, target, p.names[0])
		if err != nil {
			return nil, err
		}
		matched = []Symbol{sym}
	}
	out := make([]probe.Instance, 0, len(matched))
	for _, s := range matched {
		in := base
		in.name, in.fn = prefix+s.Name, symbols.Demangle(s.Name)
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
			in.fn = symbols.Demangle(s.Name)
			if s.Addr != addr {
				in.fn += "+" + strconv.FormatUint(addr-s.Addr, 10)
			}
		}
	}
	if p.ret && (in.fn == "" || strings.Contains(in.fn, "+")) {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("%s%#x: a uretprobe must be placed at a function's first instruction, and no function of %s starts there", prefix, addr, bin.Path),
			Hints: []string{listHint(bin.Path, "")},
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
	return Symbol{}, notFound(bin, fmt.Sprintf("function %q does not exist in %s", name, bin.Path), name, names, provider, "")
}

// cppPrefixes are the language prefixes, as bpftrace spells them, after
// which a uprobe's function is a C++ name.
var cppPrefixes = []string{"cpp:", "c++:"}

// cppSpec splits a function spec such as "cpp:ns::add" into its language
// prefix ("cpp:") and the name after it; ok is false without a prefix.
func cppSpec(target string) (lang, name string, ok bool) {
	for _, lang := range cppPrefixes {
		if name, ok := strings.CutPrefix(target, lang); ok {
			return lang, name, true
		}
	}
	return "", "", false
}

// matchCPP returns the functions whose C++ name, demangled without
// parameters (symbols.DemangleNoParams), is pattern or else matches it:
// every overload of a name (operator[] is a name, not a pattern). A C
// function matches by its own name. Symbols at one address (a
// constructor's complete and base object variants) are one function,
// taken once.
func matchCPP(bin *Binary, fns []Symbol, lang, pattern, provider string) ([]Symbol, error) {
	var named, matched []Symbol
	namedAt, matchedAt := map[uint64]bool{}, map[uint64]bool{}
	for _, s := range fns {
		name := symbols.DemangleNoParams(s.Name)
		if name == pattern && !namedAt[s.Addr] {
			namedAt[s.Addr] = true
			named = append(named, s)
		}
		if glob.Match(pattern, name) && !matchedAt[s.Addr] {
			matchedAt[s.Addr] = true
			matched = append(matched, s)
		}
	}
	if len(named) > 0 {
		return named, nil
	}
	if len(matched) > 0 {
		return matched, nil
	}
	if glob.HasMeta(pattern) {
		if err := probe.CheckPattern(provider+":"+bin.Path+":"+lang+pattern, pattern); err != nil {
			return nil, err
		}
		return nil, &probe.Error{
			Msg:     fmt.Sprintf("no function of %s matches %q", bin.Path, lang+pattern),
			Hints:   []string{listHint(bin.Path, lang)},
			Missing: true,
		}
	}
	msg := fmt.Sprintf("C++ function %q does not exist in %s", pattern, bin.Path)
	err := notFound(bin, msg, pattern, cppNames(fns), provider, lang)
	if strings.ContainsAny(pattern, `("`) {
		err.Hints = append([]string{fmt.Sprintf("%s takes a name without parameters, and probes every overload: %sns::add, not %sns::add(int, int)", lang, lang, lang)}, err.Hints...)
	}
	return nil, err
}

// cppNames returns the distinct C++ names of fns without parameters,
// sorted.
func cppNames(fns []Symbol) []string {
	names := make([]string, len(fns))
	for i, s := range fns {
		names[i] = symbols.DemangleNoParams(s.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// notFound is the error for a function name of bin that does not exist:
// msg, then the close names among known and how to list them all (with
// the language prefix lang, if any).
func notFound(bin *Binary, msg, name string, known []string, provider, lang string) *probe.Error {
	e := &probe.Error{Msg: msg, Missing: true}
	if len(known) == 0 {
		e.Hints = append(e.Hints, fmt.Sprintf("%s has no symbol table (is it stripped?); probe an address instead: %s:%s:0xADDRESS", bin.Path, provider, bin.Path))
		return e
	}
	e.Suggest(name, known)
	e.Hints = append(e.Hints, listHint(bin.Path, lang))
	return e
}

// listHint says how to list the functions of path, by C++ name when lang
// is a language prefix.
func listHint(path, lang string) string {
	what := "functions"
	if lang != "" {
		what = "C++ functions"
	}
	return fmt.Sprintf("list its %s with: ebtrace -l 'uprobe:%s:%s*'", what, path, lang)
}

// Probes implements probe.Provider: the function symbols of the binary the
// pattern names, e.g. "/bin/bash:read*", as the symbol table names them
// (mangled, for C++), as bpftrace lists them. A pattern with a language
// prefix, "/opt/app:cpp:*", lists C++ names without parameters instead,
// each once, as a cpp: probe takes them. Listed names keep the binary and
// prefix as the pattern writes them, since the registry matches them
// against it.
func (p Provider) Probes(pattern string, env *probe.Env) ([]probe.Listing, error) {
	path, target, _ := strings.Cut(pattern, ":")
	if path == "" || glob.HasMeta(path) {
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
	names := make([]string, len(fns))
	for i, s := range fns {
		names[i] = s.Name
	}
	lang, _, isCPP := cppSpec(target)
	if isCPP {
		names = cppNames(fns)
	}
	out := make([]probe.Listing, len(names))
	for i, name := range names {
		out[i] = probe.Listing{Name: p.names[0] + ":" + path + ":" + lang + name}
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
