// Package usdt provides usdt:PATH:PROVIDER:NAME probes: the statically
// defined tracing points that sys/sdt.h's DTRACE_PROBE and STAP_PROBE
// macros compile into programs, listed in the binary's .note.stapsdt
// section. Each probe site is a uprobe on a nop; its arguments are
// decoded from the note's argument specification into load code, and a
// probe's semaphore, which guards arguments that are costly to compute,
// is raised by the kernel while the probe is attached.
package usdt

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
	"github.com/ebtrace/ebtrace/internal/probe/uprobe"
)

// Provider is the usdt probe type.
type Provider struct{}

// Names implements probe.Provider.
func (Provider) Names() []string { return []string{"usdt", "U"} }

// Expand implements probe.Provider. Spec is PATH:PROVIDER:NAME, or
// PATH:NAME for a probe of any provider; PROVIDER and NAME may hold
// wildcards.
func (Provider) Expand(spec string, env *probe.Env) ([]probe.Instance, error) {
	path, rest, _ := strings.Cut(spec, ":")
	provider, name, ok := strings.Cut(rest, ":")
	if !ok {
		provider, name = "*", rest
	}
	if path == "" || provider == "" || name == "" || strings.Contains(name, ":") {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("usdt %q must be PATH:PROVIDER:NAME or PATH:NAME", spec),
			Hints: []string{"for example usdt:/usr/bin/python3:python:function__entry"},
		}
	}
	for _, part := range []string{provider, name} {
		if err := probe.CheckPattern("usdt:"+spec, part); err != nil {
			return nil, err
		}
	}
	regs, err := arch.Host()
	if err != nil {
		return nil, fmt.Errorf("usdt: %w", err)
	}
	bin, notes, err := open(path, env.PID)
	if err != nil {
		return nil, err
	}
	defer bin.Close()
	var matched []Note
	for _, n := range notes {
		if glob.Match(provider, n.Provider) && glob.Match(name, n.Name) {
			matched = append(matched, n)
		}
	}
	if len(matched) == 0 {
		return nil, notFound(bin.Path, notes, provider, name)
	}
	// Sites of one probe share an instance when their arguments are found
	// the same way; the compiler may place each site's arguments apart,
	// and a variable's distance from the site differs for each.
	type key struct {
		provider, name, args string
		pc                   uint64
	}
	byKey := map[key]*instance{}
	var out []probe.Instance
	for _, n := range matched {
		args, relative := parseAt(bin, n, regs)
		k := key{provider: n.Provider, name: n.Name, args: n.Args}
		if relative {
			k.pc = n.PC
		}
		in, ok := byKey[k]
		if !ok {
			in = &instance{
				name: "usdt:" + bin.Path + ":" + n.Provider + ":" + n.Name,
				path: bin.Path, pid: env.PID,
				args: args,
			}
			byKey[k] = in
			out = append(out, in)
		}
		s := site{}
		if s.offset, err = bin.CodeOffset(n.PC); err != nil {
			return nil, err
		}
		if n.Semaphore != 0 {
			if s.semaphore, err = bin.FileOffset(n.Semaphore); err != nil {
				return nil, err
			}
		}
		in.sites = append(in.sites, s)
	}
	return out, nil
}

// open opens the binary at path and reads its probes.
func open(path string, pid int) (*uprobe.Binary, []Note, error) {
	bin, err := uprobe.Open(path, pid)
	if err != nil {
		return nil, nil, err
	}
	notes, err := Notes(bin.File)
	if err != nil {
		bin.Close()
		return nil, nil, &probe.Error{Msg: fmt.Sprintf("%s has malformed USDT notes: %v", bin.Path, err)}
	}
	slices.SortStableFunc(notes, func(a, b Note) int {
		return strings.Compare(a.Provider+":"+a.Name, b.Provider+":"+b.Name)
	})
	return bin, notes, nil
}

func notFound(path string, notes []Note, provider, name string) error {
	if len(notes) == 0 {
		return &probe.Error{
			Msg:     fmt.Sprintf("%s has no USDT probes", path),
			Hints:   []string{"USDT probes are compiled in with sys/sdt.h's DTRACE_PROBE or STAP_PROBE macros; `readelf -n` shows them"},
			Missing: true,
		}
	}
	e := &probe.Error{Msg: fmt.Sprintf("%s has no USDT probe %s:%s", path, provider, name), Missing: true}
	want := provider + ":" + name
	seen := map[string]bool{}
	var names []string
	for _, n := range notes {
		have := n.Provider + ":" + n.Name
		if provider == "*" {
			want, have = name, n.Name
		}
		if !seen[have] {
			seen[have] = true
			names = append(names, have)
		}
	}
	e.Suggest(want, names)
	e.Hints = append(e.Hints, fmt.Sprintf("list its probes with: ebtrace -l 'usdt:%s:*'", path))
	return e
}

// Probes implements probe.Provider: the USDT probes of the binary the
// pattern names, e.g. "/usr/bin/python3:*". Listed names keep the binary
// as the pattern writes it, since the registry matches them against it.
func (Provider) Probes(pattern string, env *probe.Env) ([]probe.Listing, error) {
	path, _, _ := strings.Cut(pattern, ":")
	if path == "" || glob.HasMeta(path) {
		return nil, nil
	}
	bin, notes, err := open(path, env.PID)
	if err != nil {
		return nil, err
	}
	bin.Close()
	regs, regsErr := arch.Host()
	var out []probe.Listing
	for i, n := range notes {
		if i > 0 && n.Provider == notes[i-1].Provider && n.Name == notes[i-1].Name {
			continue
		}
		out = append(out, probe.Listing{
			Name: "usdt:" + path + ":" + n.Provider + ":" + n.Name,
			Args: func() ([]string, error) {
				if regsErr != nil {
					return nil, regsErr
				}
				return describe(parseEach(n.Args, regs)), nil
			},
		})
	}
	return out, nil
}

// parsed is one argument of a probe, or why it cannot be read.
type parsed struct {
	Arg
	err error
}

// parseEach decodes each argument of spec on its own, so that one the
// decoder does not support leaves the others usable.
func parseEach(spec string, regs *arch.Regs) []parsed {
	var out []parsed
	for _, field := range splitArgs(spec) {
		a, err := parseArg(field, regs)
		out = append(out, parsed{a, err})
	}
	return out
}

// parseAt decodes the arguments of the probe site n, placing variables
// the arguments name relative to the site; relative says whether any
// does.
func parseAt(bin *uprobe.Binary, n Note, regs *arch.Regs) (args []parsed, relative bool) {
	args = parseEach(n.Args, regs)
	for i := range args {
		a := &args[i]
		if a.err != nil || a.Symbol == "" {
			continue
		}
		relative = true
		addr, ok := bin.Address(a.Symbol)
		if !ok {
			a.err = fmt.Errorf("variable %s is not in the symbol table of %s", a.Symbol, bin.Path)
			continue
		}
		a.err = a.Relocate(addr, n.PC)
	}
	return args, relative
}

// describe renders arguments for -lv: "arg0: int32 (-4@%edi)".
func describe(args []parsed) []string {
	var out []string
	for i, a := range args {
		if a.err != nil {
			out = append(out, fmt.Sprintf("arg%d: unreadable, %v (%s)", i, a.err, a.Spec))
			continue
		}
		out = append(out, fmt.Sprintf("arg%d: %s (%s)", i, a.Type(), a.Spec))
	}
	return out
}

// site is one place a probe is compiled in: the file offsets of its nop
// and of its semaphore (0 when it has none).
type site struct {
	offset, semaphore uint64
}

type instance struct {
	name  string
	path  string
	pid   int
	args  []parsed
	sites []site
}

func (i *instance) Name() string           { return i.name }
func (i *instance) Kind() probe.Kind       { return probe.Event }
func (i *instance) Program() probe.Program { return probe.Program{Type: ebpf.Kprobe} }

// refCtrFormat is present when the uprobe PMU can raise semaphores.
const refCtrFormat = "/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset"

func (i *instance) Available() error {
	if err := uprobe.Available(); err != nil {
		return err
	}
	for _, s := range i.sites {
		if s.semaphore == 0 {
			continue
		}
		if _, err := os.Stat(refCtrFormat); err != nil {
			return &probe.Unavailable{Reason: fmt.Sprintf("%s has a semaphore, and this kernel cannot raise USDT semaphores (%s is missing; Linux 4.20 added it)", i.name, refCtrFormat), Err: err}
		}
	}
	return nil
}

func (i *instance) Arg(name string) (probe.Arg, error) {
	return probe.Arg{}, &probe.Error{
		Msg:   fmt.Sprintf("%s has no args.%s: USDT arguments have no names", i.name, name),
		Hints: []string{"use arg0, arg1, ...; list them with: ebtrace -lv '" + i.name + "'"},
	}
}

func (i *instance) Builtin(name string) (probe.Arg, bool) {
	rest, ok := strings.CutPrefix(name, "arg")
	if !ok {
		return probe.Arg{}, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n >= len(i.args) || i.args[n].err != nil {
		return probe.Arg{}, false
	}
	a := i.args[n].Arg
	return probe.Arg{Type: a.Type(), Load: a.Load}, true
}

// Attach places prog at every site of the probe, raising each site's
// semaphore while attached.
func (i *instance) Attach(prog *ebpf.Program) (io.Closer, error) {
	var links probe.Links
	for _, s := range i.sites {
		l, err := uprobe.Attach(i.path, false, prog, link.UprobeOptions{Address: s.offset, PID: i.pid, RefCtrOffset: s.semaphore})
		if err != nil {
			links.Close()
			return nil, fmt.Errorf("attach %s at file offset %#x: %w", i.name, s.offset, err)
		}
		links = append(links, l)
	}
	return links, nil
}
