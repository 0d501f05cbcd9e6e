// Package fentry provides fentry:FUNC and fexit:FUNC probes (also named
// kfunc and kretfunc): BPF trampolines on kernel functions, whose
// arguments come by name and type from the kernel's BTF (args.NAME), with
// retval on fexit, arg0.. as raw 64-bit slots, and func. Specs may name a
// module (fentry:ext4:ext4_file_open) or a wildcard (fentry:vfs_*, one
// instance per function). Programs are BPF_PROG_TYPE_TRACING, which the
// kernel checks against the function's BTF when it loads them.
package fentry

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/kprobe"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Provider is fentry or fexit.
type Provider struct {
	exit  bool
	names []string
}

// Entry runs when a kernel function starts, Exit when it returns.
var (
	Entry = Provider{names: []string{"fentry", "f", "kfunc"}}
	Exit  = Provider{exit: true, names: []string{"fexit", "fr", "kretfunc"}}
)

// Names implements probe.Provider.
func (p Provider) Names() []string { return p.names }

// sources returns the function sets a module pattern selects: "" is
// vmlinux and every module, "vmlinux" the core kernel alone. Modules are
// read only when asked for, since each costs a BTF parse.
func sources(module string, withModules bool) ([]*funcs, error) {
	var out []*funcs
	if module == "" || glob.Match(module, "vmlinux") {
		vm, err := vmlinuxFuncs()
		if err != nil {
			return nil, err
		}
		out = append(out, vm)
	}
	if module == "vmlinux" || !withModules {
		return out, nil
	}
	names, err := moduleNames()
	if err != nil {
		return nil, err
	}
	for _, m := range names {
		if module != "" && !glob.Match(module, m) {
			continue
		}
		f, err := moduleFuncs(m)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Expand implements probe.Provider.
func (p Provider) Expand(spec string, env *probe.Env) ([]probe.Instance, error) {
	kind := p.names[0]
	t, err := kprobe.ParseTarget(kind, spec)
	if err != nil {
		return nil, err
	}
	module, fn := t.Module, t.Func
	if t.Wildcard() {
		return p.expandWildcard(kind, spec, module, fn, env)
	}
	srcs, err := sources(module, false)
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 || srcs[0].count[fn] == 0 {
		// Not in vmlinux: look in the modules.
		if srcs, err = sources(module, true); err != nil {
			return nil, err
		}
		if module != "" && module != "vmlinux" && len(srcs) == 0 {
			return nil, noModule(kind, spec, module)
		}
	}
	for _, src := range srcs {
		switch src.count[fn] {
		case 0:
			continue
		case 1:
		default:
			return nil, &probe.Error{
				Msg:   fmt.Sprintf("%s:%s: the kernel has %d functions named %s, and ebtrace cannot yet tell them apart", kind, spec, src.count[fn], fn),
				Hints: []string{"kprobe:" + fn + " attaches to the first of them"},
			}
		}
		in, err := p.instance(module, fn, src, env)
		if err != nil {
			return nil, err
		}
		if why := unsupported(in.proto); why != "" {
			return nil, &probe.Error{
				Msg:   fmt.Sprintf("%s:%s: the kernel cannot attach a trampoline to %s: %s", kind, spec, fn, why),
				Hints: []string{"kprobe:" + fn + " reads its registers instead"},
			}
		}
		return []probe.Instance{in}, nil
	}
	return nil, notFound(kind, spec, fn, srcs, env)
}

// expandWildcard gives one instance per matching function, skipping those
// no trampoline can attach to and names BTF holds more than once.
func (p Provider) expandWildcard(kind, spec, module, fn string, env *probe.Env) ([]probe.Instance, error) {
	srcs, err := sources(module, true)
	if err != nil {
		return nil, err
	}
	var out []probe.Instance
	for _, src := range srcs {
		named := module
		if glob.HasMeta(module) {
			named = cmp.Or(src.module, "vmlinux")
		}
		for _, name := range src.names {
			if src.count[name] != 1 || !glob.Match(fn, name) {
				continue
			}
			in, err := p.instance(named, name, src, env)
			if err != nil {
				return nil, err
			}
			if unsupported(in.proto) == "" {
				out = append(out, in)
			}
		}
	}
	if len(out) == 0 {
		return nil, &probe.Error{
			Msg:     fmt.Sprintf("%s:%s matches no kernel function with BTF that a trampoline can attach to", kind, spec),
			Hints:   []string{fmt.Sprintf("list them with: ebtrace -l '%s:*'", kind)},
			Missing: true,
		}
	}
	return out, nil
}

func noModule(kind, spec, module string) error {
	e := &probe.Error{Msg: fmt.Sprintf("%s:%s: module %s is not loaded or has no BTF", kind, spec, module), Missing: true}
	names, _ := moduleNames()
	e.Suggest(module, names)
	return e
}

func notFound(kind, spec, fn string, srcs []*funcs, env *probe.Env) error {
	e := &probe.Error{Msg: fmt.Sprintf("%s:%s: no kernel function %s in BTF", kind, spec, fn), Missing: true}
	if kernelHas(fn, env) {
		e.Msg = fmt.Sprintf("%s:%s: kernel function %s has no BTF (it may be inlined or not traceable)", kind, spec, fn)
		e.Hints = append(e.Hints, "kprobe:"+fn+" may still attach to it")
		return e
	}
	var names []string
	for _, src := range srcs {
		names = append(names, src.names...)
	}
	e.Suggest(fn, names)
	e.Hints = append(e.Hints, fmt.Sprintf("list them with: ebtrace -l '%s:*'", kind))
	return e
}

// kernelHas reports whether fn is a function in the kernel's symbols.
func kernelHas(fn string, env *probe.Env) bool {
	read := kernel.Kallsyms
	if env != nil && env.Kallsyms != nil {
		read = env.Kallsyms
	}
	syms, err := read()
	if err != nil {
		return false
	}
	for _, s := range syms {
		if s.Name == fn && s.IsText() {
			return true
		}
	}
	return false
}

func (p Provider) instance(module, fn string, src *funcs, env *probe.Env) (*instance, error) {
	f, err := src.lookup(fn)
	if err != nil {
		return nil, err
	}
	proto, ok := f.Type.(*btf.FuncProto)
	if !ok {
		return nil, fmt.Errorf("BTF function %s has type %s, not a prototype", fn, f.Type)
	}
	name := p.names[0] + ":" + fn
	if module != "" {
		name = p.names[0] + ":" + module + ":" + fn
	}
	params, retSlot := layout(proto)
	return &instance{exit: p.exit, name: name, fn: fn, proto: proto, params: params, retSlot: retSlot, env: env}, nil
}

// Probes implements probe.Provider.
func (p Provider) Probes(string, *probe.Env) ([]probe.Listing, error) {
	srcs, err := sources("", true)
	if errors.Is(err, ebpf.ErrNotSupported) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []probe.Listing
	for _, src := range srcs {
		prefix := p.names[0] + ":"
		if src.module != "" {
			prefix += src.module + ":"
		}
		for _, name := range src.names {
			out = append(out, probe.Listing{Name: prefix + name, Args: p.declarations(src, name)})
		}
	}
	return out, nil
}

// declarations returns -lv's lines for a function: each parameter as C
// declares it and, on fexit, the return value as retval.
func (p Provider) declarations(src *funcs, name string) func() ([]string, error) {
	return func() ([]string, error) {
		f, err := src.lookup(name)
		if errors.Is(err, btf.ErrMultipleMatches) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		proto, ok := f.Type.(*btf.FuncProto)
		if !ok {
			return nil, nil
		}
		var decls []string
		for _, prm := range proto.Params {
			if _, ok := prm.Type.(*btf.Void); ok {
				decls = append(decls, "...")
				continue
			}
			decls = append(decls, strings.TrimSpace(cDecl(prm.Type)+" "+prm.Name))
		}
		if _, void := proto.Return.(*btf.Void); p.exit && !void {
			decls = append(decls, cDecl(proto.Return)+" retval")
		}
		return decls, nil
	}
}

type instance struct {
	exit    bool
	name    string // canonical probe name
	fn      string
	proto   *btf.FuncProto
	params  []param
	retSlot int
	env     *probe.Env
}

func (i *instance) Name() string     { return i.name }
func (i *instance) Kind() probe.Kind { return probe.Event }

// Program implements probe.Instance: cilium resolves AttachTo against the
// kernel's BTF (vmlinux, then modules) when it loads the program.
func (i *instance) Program() probe.Program {
	at := ebpf.AttachTraceFEntry
	if i.exit {
		at = ebpf.AttachTraceFExit
	}
	return probe.Program{Type: ebpf.Tracing, AttachType: at, AttachTo: i.fn}
}

// Arg implements probe.Instance: args.NAME is a parameter of the function.
func (i *instance) Arg(name string) (probe.Arg, error) {
	var names []string
	for _, p := range i.params {
		if p.Name == name {
			return argOf(p.Type, p.Slot, fmt.Sprintf("args.%s of %s", name, i.name))
		}
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	e := &probe.Error{Msg: fmt.Sprintf("%s has no argument %q", i.name, name)}
	e.Suggest(name, names)
	switch {
	case len(i.params) == 0:
		e.Hints = append(e.Hints, i.fn+" takes no arguments")
	case len(names) == 0:
		e.Hints = append(e.Hints, "BTF does not name the arguments of "+i.fn+": use arg0, arg1, ...")
	default:
		e.Hints = append(e.Hints, "arguments: "+strings.Join(names, ", "))
	}
	return probe.Arg{}, e
}

// Builtin implements probe.Instance: func, retval on fexit (typed from
// BTF; undefined for void functions) and arg0.. as the raw 64-bit slots.
func (i *instance) Builtin(name string) (probe.Arg, bool) {
	switch name {
	case "func":
		return probe.Arg{Type: types.String(len(i.fn) + 1), Text: i.fn}, true
	case "retval":
		if !i.exit {
			return probe.Arg{}, false
		}
		arg, err := argOf(i.proto.Return, i.retSlot, "retval")
		return arg, err == nil
	}
	n, ok := strings.CutPrefix(name, "arg")
	slot, err := strconv.Atoi(n)
	if !ok || err != nil || strconv.Itoa(slot) != n || slot < 0 || slot >= i.retSlot {
		return probe.Arg{}, false
	}
	return slotArg(i.params, slot), true
}

// Attach implements probe.Instance.
func (i *instance) Attach(prog *ebpf.Program) (io.Closer, error) {
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", i.name, err)
	}
	return l, nil
}
