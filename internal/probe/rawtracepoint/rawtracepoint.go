// Package rawtracepoint provides rawtracepoint:NAME probes (alias rt). A raw
// tracepoint runs where the kernel calls the tracepoint, before the tracing
// layer formats an event, and sees the tracepoint's own C arguments: a u64
// array whose slot I is argI. Where kernel BTF describes the tracepoint (its
// btf_trace_NAME typedef) the program is a BTF-typed raw tracepoint
// (tp_btf) and args.NAME reads each argument with its C type; otherwise it
// is a plain raw_tracepoint program offering arg0..arg11 alone.
package rawtracepoint

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/types"
)

// maxArgs is how many u64 slots the verifier lets a raw tracepoint program
// read (MAX_BPF_FUNC_ARGS); no tracepoint in a 6.18 kernel has more.
const maxArgs = 12

// Provider is the rawtracepoint probe type.
type Provider struct {
	// KernelBTF returns the BTF describing the running kernel; nil means
	// /sys/kernel/btf/vmlinux. An error wrapping ebpf.ErrNotSupported
	// means the kernel has none. Tests substitute a spec of their own.
	KernelBTF func() (*btf.Spec, error)
}

// Names implements probe.Provider.
func (Provider) Names() []string { return []string{"rawtracepoint", "rt"} }

// kernelBTF returns the kernel's BTF, or nil when the kernel has none.
func (p Provider) kernelBTF() (*btf.Spec, error) {
	load := p.KernelBTF
	if load == nil {
		load = kernel.BTF.Kernel
	}
	spec, err := load()
	if errors.Is(err, ebpf.ErrNotSupported) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	return spec, nil
}

// Expand implements probe.Provider.
func (p Provider) Expand(spec string, env *probe.Env) ([]probe.Instance, error) {
	if err := validName(spec); err != nil {
		return nil, err
	}
	kbtf, err := p.kernelBTF()
	if err != nil {
		return nil, err
	}
	if !glob.HasMeta(spec) {
		in, err := lookup(kbtf, env, spec)
		if err != nil {
			return nil, err
		}
		return []probe.Instance{in}, nil
	}
	names, err := allNames(kbtf, env)
	if err != nil {
		return nil, err
	}
	var out []probe.Instance
	for _, n := range names {
		if !glob.Match(spec, n) {
			continue
		}
		in, err := lookup(kbtf, env, n)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	if len(out) == 0 {
		return nil, &probe.Error{
			Msg:     fmt.Sprintf("rawtracepoint:%s matches no raw tracepoint", spec),
			Hints:   []string{"list raw tracepoints with: ebtrace -l 'rawtracepoint:*'"},
			Missing: true,
		}
	}
	return out, nil
}

// validName checks the shape of a NAME pattern: a C identifier with
// wildcards.
func validName(spec string) error {
	if before, after, ok := strings.Cut(spec, ":"); ok {
		e := &probe.Error{Msg: fmt.Sprintf("rawtracepoint %q must be a tracepoint name alone, as in rawtracepoint:sched_switch", spec)}
		if after != "" && !strings.Contains(after, ":") && before != "" {
			e.Hints = append(e.Hints, "raw tracepoints are named without a category or module: did you mean rawtracepoint:"+after+"?")
		}
		return e
	}
	if err := probe.CheckPattern("rawtracepoint:"+spec, spec); err != nil {
		return err
	}
	ok := spec != ""
	for _, c := range glob.Literals(spec) {
		ok = ok && (c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z')
	}
	if !ok {
		return &probe.Error{
			Msg:   fmt.Sprintf("rawtracepoint %q is not a tracepoint name", spec),
			Hints: []string{"names are C identifiers", glob.Syntax},
		}
	}
	return nil
}

// lookup resolves one exact name: from BTF when it describes the
// tracepoint, else from tracefs, whose events include tracepoints of
// modules without BTF.
func lookup(kbtf *btf.Spec, env *probe.Env, name string) (*instance, error) {
	if kbtf != nil {
		sig, err := signatureOf(kbtf, name)
		if err != nil {
			return nil, err
		}
		if sig != nil {
			return &instance{name: name, sig: sig}, nil
		}
	}
	traced, err := tracefsNames(env)
	if err != nil && kbtf == nil {
		return nil, err
	}
	if _, ok := slices.BinarySearch(traced, name); ok {
		return &instance{name: name, noBTF: noBTFReason(kbtf)}, nil
	}
	return nil, notFound(kbtf, env, name)
}

func noBTFReason(kbtf *btf.Spec) string {
	if kbtf == nil {
		return "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
	}
	return "the kernel's BTF does not describe it (it may belong to a module without BTF)"
}

func notFound(kbtf *btf.Spec, env *probe.Env, name string) error {
	e := &probe.Error{Msg: fmt.Sprintf("rawtracepoint:%s does not exist on this kernel", name), Missing: true}
	if names, err := allNames(kbtf, env); err == nil {
		if close := source.Closest(name, names, 4); len(close) > 0 {
			e.Hints = append(e.Hints, "did you mean rawtracepoint:"+strings.Join(close, ", rawtracepoint:")+"?")
		}
	}
	if strings.HasPrefix(name, "sys_enter_") || strings.HasPrefix(name, "sys_exit_") {
		e.Hints = append(e.Hints, "syscalls:* events are not raw tracepoints: the kernel derives them from sys_enter and sys_exit, whose arg1 is the syscall number; or use tracepoint:syscalls:"+name)
	}
	e.Hints = append(e.Hints, "list raw tracepoints with: ebtrace -l 'rawtracepoint:*'")
	return e
}

// allNames returns every raw tracepoint name, sorted: those BTF describes
// and the tracefs events, which add modules' tracepoints. With BTF, a
// tracefs that cannot be read only loses the latter.
func allNames(kbtf *btf.Spec, env *probe.Env) ([]string, error) {
	var names []string
	if kbtf != nil {
		var err error
		if names, err = btfNames(kbtf); err != nil {
			return nil, err
		}
	}
	traced, err := tracefsNames(env)
	if err != nil && kbtf == nil {
		return nil, err
	}
	names = append(slices.Clone(names), traced...)
	slices.Sort(names)
	return slices.Compact(names), nil
}

// notTracepoints are tracefs categories whose events are not kernel
// tracepoints and so cannot be attached raw: syscalls:* events are
// synthesized from raw_syscalls:sys_enter and sys_exit, the others are
// ftrace's own records and dynamic probes.
var notTracepoints = map[string]bool{
	"syscalls": true, "ftrace": true, "kprobes": true, "uprobes": true,
	"eprobes": true, "synthetic": true, "fprobes": true, "tracepoints": true,
}

// tracefsNames returns the names of tracefs events that are tracepoints,
// sorted.
func tracefsNames(env *probe.Env) ([]string, error) {
	if env == nil || env.Events == nil {
		return nil, errors.New("raw tracepoints without BTF are found through tracefs, which is not available")
	}
	events, err := env.Events()
	if err != nil {
		return nil, err
	}
	tps, err := events.Tracepoints()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, tp := range tps {
		if !notTracepoints[tp.Category] {
			names = append(names, tp.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// typedefPrefix names the typedef the kernel declares for each tracepoint
// for tp_btf programs: a pointer to the prototype of its probe functions,
// void (*)(void *__data, ARGS...).
const typedefPrefix = "btf_trace_"

var btfNameCache struct {
	sync.Mutex
	spec  *btf.Spec
	names []string
}

// btfNames lists the tracepoints BTF describes, sorted. Walking every
// type of vmlinux takes a few hundred milliseconds, so the result is kept.
func btfNames(kbtf *btf.Spec) ([]string, error) {
	btfNameCache.Lock()
	defer btfNameCache.Unlock()
	if btfNameCache.spec == kbtf {
		return btfNameCache.names, nil
	}
	var names []string
	for t, err := range kbtf.All() {
		if err != nil {
			return nil, fmt.Errorf("kernel BTF: %w", err)
		}
		if td, ok := t.(*btf.Typedef); ok {
			if n, ok := strings.CutPrefix(td.Name, typedefPrefix); ok {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	btfNameCache.spec, btfNameCache.names = kbtf, names
	return names, nil
}

// signature is what BTF says of a tracepoint's arguments.
type signature struct {
	params []btf.FuncParam // without the leading void *__data
	// named is false when BTF gives the argument types but not their
	// names (kernels before 5.10 have no __traceiter_ functions).
	named bool
}

// signatureOf returns the arguments of tracepoint name, or nil when BTF
// does not describe it.
func signatureOf(kbtf *btf.Spec, name string) (*signature, error) {
	var td *btf.Typedef
	err := kbtf.TypeByName(typedefPrefix+name, &td)
	if errors.Is(err, btf.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	proto, ok := prototype(td.Type)
	if !ok || len(proto.Params) == 0 {
		return nil, fmt.Errorf("kernel BTF: %s is not a pointer to a function of void *__data: %w", td.Name, ebpf.ErrNotSupported)
	}
	sig := &signature{params: proto.Params[1:]}
	// The typedef's parameters are unnamed; the per-tracepoint functions
	// the kernel generates from the same prototype name them.
	for _, fn := range []string{"__traceiter_", "__probestub_"} {
		var f *btf.Func
		if kbtf.TypeByName(fn+name, &f) != nil {
			continue
		}
		named, ok := f.Type.(*btf.FuncProto)
		if !ok || len(named.Params) != len(proto.Params) {
			continue
		}
		sig.params = slices.Clone(sig.params)
		for i := range sig.params {
			sig.params[i].Name = named.Params[i+1].Name
		}
		sig.named = true
		break
	}
	return sig, nil
}

func prototype(t btf.Type) (*btf.FuncProto, bool) {
	ptr, ok := btf.UnderlyingType(t).(*btf.Pointer)
	if !ok {
		return nil, false
	}
	proto, ok := btf.UnderlyingType(ptr.Target).(*btf.FuncProto)
	return proto, ok
}

// Probes implements probe.Provider.
func (p Provider) Probes(_ string, env *probe.Env) ([]probe.Listing, error) {
	kbtf, err := p.kernelBTF()
	if err != nil {
		return nil, err
	}
	names, err := allNames(kbtf, env)
	if err != nil {
		return nil, err
	}
	out := make([]probe.Listing, len(names))
	for i, n := range names {
		out[i] = probe.Listing{
			Name: "rawtracepoint:" + n,
			Args: func() ([]string, error) {
				if kbtf == nil {
					return nil, nil
				}
				sig, err := signatureOf(kbtf, n)
				if err != nil || sig == nil {
					return nil, err
				}
				decls := make([]string, len(sig.params))
				for i, prm := range sig.params {
					decls[i] = declaration(prm.Type, prm.Name)
				}
				return decls, nil
			},
		}
	}
	return out, nil
}

type instance struct {
	name  string
	sig   *signature // nil for a plain raw tracepoint
	noBTF string     // why sig is nil
}

func (i *instance) Name() string     { return "rawtracepoint:" + i.name }
func (i *instance) Kind() probe.Kind { return probe.Event }
func (i *instance) Available() error { return nil }

func (i *instance) Program() probe.Program {
	if i.sig == nil {
		return probe.Program{Type: ebpf.RawTracepoint}
	}
	return probe.Program{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: i.name}
}

// Builtin defines argI, the raw u64 slot I, for every slot the tracepoint
// has: all twelve the verifier allows when BTF does not say how many.
func (i *instance) Builtin(name string) (probe.Arg, bool) {
	digits, ok := strings.CutPrefix(name, "arg")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 0 || n >= maxArgs || strconv.Itoa(n) != digits {
		return probe.Arg{}, false
	}
	arg := probe.Arg{Type: types.UInt64, Offset: 8 * n}
	if i.sig == nil {
		return arg, true
	}
	if n >= len(i.sig.params) {
		return probe.Arg{}, false
	}
	if _, ptr := btf.UnderlyingType(i.sig.params[n].Type).(*btf.Pointer); ptr {
		arg.Load = probe.ReadCopy(arg.Offset)
	}
	return arg, true
}

func (i *instance) Arg(name string) (probe.Arg, error) {
	if i.sig == nil {
		return probe.Arg{}, &probe.Error{
			Msg:   fmt.Sprintf("%s has no typed arguments: args.%s needs BTF describing the tracepoint, and %s", i.Name(), name, i.noBTF),
			Hints: []string{"read the raw arguments as arg0, arg1, ... (u64 each)"},
		}
	}
	if !i.sig.named {
		return probe.Arg{}, &probe.Error{
			Msg:   fmt.Sprintf("the kernel's BTF gives the types of %s's arguments but not their names", i.Name()),
			Hints: []string{"read them as arg0, arg1, ...; list their types with: ebtrace -lv '" + i.Name() + "'"},
		}
	}
	var names []string
	for n, prm := range i.sig.params {
		if prm.Name == name {
			return argOf(i, prm, 8*n)
		}
		names = append(names, prm.Name)
	}
	e := &probe.Error{Msg: fmt.Sprintf("%s has no argument %q", i.Name(), name)}
	e.Suggest(name, names)
	e.Hints = append(e.Hints, "arguments: "+strings.Join(names, ", "))
	return probe.Arg{}, e
}

// argOf types one argument from BTF: integers, enums and bools by their
// size and sign, pointers as addresses of their C pointee type.
func argOf(i *instance, prm btf.FuncParam, offset int) (probe.Arg, error) {
	switch t := btf.UnderlyingType(prm.Type).(type) {
	case *btf.Int:
		if t.Size <= 8 {
			return probe.Arg{Type: types.IntOf(int(t.Size), t.Encoding&btf.Signed != 0), Offset: offset}, nil
		}
	case *btf.Enum:
		if t.Size <= 8 {
			return probe.Arg{Type: types.IntOf(int(t.Size), t.Signed), Offset: offset}, nil
		}
	case *btf.Pointer:
		elem, space := pointee(t)
		return probe.Arg{Type: types.Pointer(elem, space), Offset: offset, Load: probe.ReadCopy(offset), Typed: true}, nil
	case *btf.Struct, *btf.Union:
		return probe.Arg{}, &probe.Error{
			Msg:   fmt.Sprintf("argument %s of %s is a %s passed by value, which ebtrace cannot read", prm.Name, i.Name(), typeName(prm.Type)),
			Hints: []string{fmt.Sprintf("its raw bits are arg%d", offset/8)},
		}
	}
	return probe.Arg{}, &probe.Error{Msg: fmt.Sprintf("argument %s of %s has type %s, which ebtrace cannot read", prm.Name, i.Name(), typeName(prm.Type))}
}

// pointee names what a pointer points to, without qualifiers, and says
// which address space it is in: kernel, unless BTF tags it __user.
func pointee(p *btf.Pointer) (string, types.AddrSpace) {
	space := types.Kernel
	t := p.Target
	for {
		switch q := t.(type) {
		case *btf.TypeTag:
			if q.Value == "user" {
				space = types.User
			}
			t = q.Type
			continue
		case *btf.Const:
			t = q.Type
			continue
		case *btf.Volatile:
			t = q.Type
			continue
		case *btf.Restrict:
			t = q.Type
			continue
		}
		return typeName(t), space
	}
}

func (i *instance) Attach(prog *ebpf.Program) (io.Closer, error) {
	var (
		l   link.Link
		err error
	)
	if i.sig != nil {
		l, err = link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
	} else {
		l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: i.name, Program: prog})
	}
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", i.Name(), err)
	}
	return l, nil
}

// declaration renders a parameter as C declares it, the way -lv shows
// tracepoint fields: "struct task_struct * prev".
func declaration(t btf.Type, name string) string {
	if name == "" {
		return typeName(t)
	}
	return typeName(t) + " " + name
}

// typeName renders a BTF type as C names it: "const char *",
// "struct task_struct *", "pid_t".
func typeName(t btf.Type) string {
	switch t := t.(type) {
	case nil, *btf.Void:
		return "void"
	case *btf.Int:
		return t.Name
	case *btf.Float:
		return t.Name
	case *btf.Typedef:
		return t.Name
	case *btf.Struct:
		return "struct " + t.Name
	case *btf.Union:
		return "union " + t.Name
	case *btf.Enum:
		return "enum " + t.Name
	case *btf.Fwd:
		return t.Kind.String() + " " + t.Name
	case *btf.Const:
		return "const " + typeName(t.Type)
	case *btf.Volatile:
		return "volatile " + typeName(t.Type)
	case *btf.Restrict:
		return typeName(t.Type)
	case *btf.TypeTag:
		return typeName(t.Type)
	case *btf.Array:
		return typeName(t.Type) + "[" + strconv.Itoa(int(t.Nelems)) + "]"
	case *btf.Pointer:
		if proto, ok := btf.UnderlyingType(t.Target).(*btf.FuncProto); ok {
			return functionPointer(proto)
		}
		elem := typeName(t.Target)
		if strings.HasSuffix(elem, "*") {
			return elem + "*"
		}
		return elem + " *"
	case *btf.FuncProto:
		return functionPointer(t)
	}
	return fmt.Sprint(t)
}

func functionPointer(proto *btf.FuncProto) string {
	var params []string
	for _, p := range proto.Params {
		params = append(params, typeName(p.Type))
	}
	if len(params) == 0 {
		params = []string{"void"}
	}
	return typeName(proto.Return) + " (*)(" + strings.Join(params, ", ") + ")"
}
