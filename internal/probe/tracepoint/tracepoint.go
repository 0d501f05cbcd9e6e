// Package tracepoint provides tracepoint:CATEGORY:NAME probes. Arguments
// come from the event's tracefs format file: offsets, sizes and signedness
// as the running kernel lays them out, never a hard-coded struct. A
// syscall argument is typed by its declared C type, resolved through
// package cdecl (C's integer names, then the kernel's typedefs in BTF).
package tracepoint

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/cdecl"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Provider is the tracepoint probe type.
type Provider struct{}

// Names implements probe.Provider.
func (Provider) Names() []string { return []string{"tracepoint", "t"} }

// Expand implements probe.Provider.
func (Provider) Expand(spec string, env *probe.Env) ([]probe.Instance, error) {
	category, name, ok := strings.Cut(spec, ":")
	if !ok || category == "" || name == "" || strings.Contains(name, ":") {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("tracepoint %q must be CATEGORY:NAME", spec),
			Hints: []string{"for example tracepoint:syscalls:sys_enter_openat"},
		}
	}
	for _, part := range []string{category, name} {
		if err := probe.CheckPattern("tracepoint:"+spec, part); err != nil {
			return nil, err
		}
	}
	events, err := env.Events()
	if err != nil {
		return nil, err
	}
	matches, err := events.Match(spec)
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return nil, notFound(env, events, spec)
	}
	out := make([]probe.Instance, 0, len(matches))
	var cs *carriers
	if !env.Recorded {
		cs = &carriers{env: env}
	}
	for _, tp := range matches {
		f, err := events.Format(tp.Category, tp.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, &instance{format: f, env: env, carriers: cs})
	}
	return out, nil
}

func notFound(env *probe.Env, events *kernel.Events, spec string) error {
	where, list := "does not exist on this kernel", "list tracepoints with: ebtrace -l 'tracepoint:*'"
	if env.Recorded {
		where, list = "is not in the recording", ""
	}
	e := &probe.Error{Msg: fmt.Sprintf("tracepoint:%s %s", spec, where), Missing: true}
	all, err := events.Tracepoints()
	if err != nil {
		return e
	}
	names := make([]string, len(all))
	for i, tp := range all {
		names[i] = tp.Category + ":" + tp.Name
	}
	if close := source.Closest(spec, names, 4); len(close) > 0 {
		e.Hints = append(e.Hints, "did you mean tracepoint:"+strings.Join(close, ", tracepoint:")+"?")
	}
	if list != "" {
		e.Hints = append(e.Hints, list)
	}
	return e
}

// Probes implements probe.Provider.
func (Provider) Probes(_ string, env *probe.Env) ([]probe.Listing, error) {
	events, err := env.Events()
	if err != nil {
		return nil, err
	}
	all, err := events.Tracepoints()
	if err != nil {
		return nil, err
	}
	out := make([]probe.Listing, len(all))
	for i, tp := range all {
		out[i] = probe.Listing{
			Name: "tracepoint:" + tp.Category + ":" + tp.Name,
			Args: func() ([]string, error) {
				f, err := events.Format(tp.Category, tp.Name)
				if err != nil {
					return nil, err
				}
				var decls []string
				for _, fl := range f.ArgFields() {
					decls = append(decls, declaration(fl))
				}
				return decls, nil
			},
		}
	}
	return out, nil
}

// declaration renders a field as C declares it: "char comm[16]".
func declaration(f kernel.Field) string {
	if f.ArrayLen > 0 && !f.DataLoc {
		if base, dims, ok := strings.Cut(f.Type, "["); ok {
			return strings.TrimSpace(base) + " " + f.Name + "[" + dims
		}
	}
	return f.Type + " " + f.Name
}

type instance struct {
	format *kernel.Format
	env    *probe.Env
	// carriers finds the instance's carrier; nil in a replay, whose
	// events are the recording's own.
	carriers *carriers
}

func (i *instance) Name() string {
	return "tracepoint:" + i.format.Category + ":" + i.format.Name
}

// Format is the event's format: a replay runs the program on the
// recorded events of this one.
func (i *instance) Format() *kernel.Format { return i.format }

func (i *instance) Kind() probe.Kind       { return probe.Event }
func (i *instance) Program() probe.Program { return probe.Program{Type: ebpf.TracePoint} }
func (i *instance) Available() error       { return nil }

func (i *instance) Builtin(string) (probe.Arg, bool) { return probe.Arg{}, false }

func (i *instance) Arg(name string) (probe.Arg, error) {
	f, ok := i.format.Field(name)
	if !ok {
		var names []string
		for _, fl := range i.format.ArgFields() {
			names = append(names, fl.Name)
		}
		e := &probe.Error{Msg: fmt.Sprintf("%s has no field %q", i.Name(), name)}
		e.Suggest(name, names)
		e.Hints = append(e.Hints, "fields: "+strings.Join(names, ", "))
		return probe.Arg{}, e
	}
	arg := probe.Arg{Offset: f.Offset}
	space := types.Kernel
	if i.format.Category == "syscalls" {
		space = types.User
	}
	switch {
	case f.DataLoc:
		if !f.IsString {
			return arg, unsupported(i, f)
		}
		arg.DataLoc, arg.RelLoc = true, f.RelLoc
		arg.Type = types.String(64)
	case f.ArrayLen > 0 && f.IsString && strings.HasPrefix(strings.TrimPrefix(f.Type, "const "), "char"):
		arg.Type = types.String(f.Size)
	case f.ArrayLen > 0 && f.IsString && f.ArrayLen == f.Size:
		// A u8 array holds bytes such as an address, which ntop() reads.
		arg.Type = types.ArrayOf("uint8", f.ArrayLen, f.Size, types.Kernel)
	case f.Pointer:
		elem := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f.Type), "*"))
		elem = strings.TrimSpace(strings.TrimPrefix(elem, "const "))
		arg.Type = types.Pointer(elem, space)
	case f.Size == 1 || f.Size == 2 || f.Size == 4 || f.Size == 8:
		arg.Type = types.IntOf(f.Size, f.Signed)
		if t, ok := i.declaredInt(f); ok {
			arg.Type = t
			arg.Offset += lowBytes(f.Size, t.Size)
		}
	default:
		return arg, unsupported(i, f)
	}
	return arg, nil
}

// declaredInt is the integer type a syscall argument is declared with.
// Syscall events store every argument in an 8-byte slot marked unsigned,
// whatever its C type, so without it kill's `pid_t pid` of -999999 reads
// as 4293967297 and openat's `int dfd` of AT_FDCWD as 4294967196. Other
// events' formats give each field its own type's size and sign (char
// unsigned, as the kernel is built), which stand.
func (i *instance) declaredInt(f kernel.Field) (types.Type, bool) {
	if i.format.Category != "syscalls" {
		return types.Type{}, false
	}
	name := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(f.Type), "const "))
	t, ok := i.intType(name)
	if !ok || t.Size > f.Size {
		return types.Type{}, false
	}
	return t, true
}

// intType resolves name, when it is an integer type: C's own names without
// BTF; the kernel's typedefs (pid_t) from BTF, which costs parsing it, so
// the running kernel's answers are cached per boot (kernel.IntType).
func (i *instance) intType(name string) (types.Type, bool) {
	if t, ok := intIn(cdecl.New(nil), name); ok {
		return t, true
	}
	table := cdecl.New(i.env.Types)
	if i.env.KernelTypes == nil {
		size, signed, plain := kernel.IntType(name, func() (int, bool, bool) {
			t, ok := intIn(table, name)
			return t.Size, t.Signed, ok && t == types.IntOf(t.Size, t.Signed)
		})
		if plain {
			return types.IntOf(size, signed), true
		}
	}
	return intIn(table, name)
}

// intIn resolves name in table when it names an integer type.
func intIn(table *cdecl.Table, name string) (types.Type, bool) {
	typ, err := table.Lookup(name)
	if err != nil {
		return types.Type{}, false
	}
	t, ok := table.ScriptType(typ, types.Kernel)
	return t, ok && t.Kind == types.Int
}

// lowBytes is where in a slot of slot bytes the low-order size bytes of
// the integer it holds begin: at its start on a little-endian machine, at
// its end on a big-endian one.
func lowBytes(slot, size int) int {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return 0
	}
	return slot - size
}

func unsupported(i *instance, f kernel.Field) error {
	return &probe.Error{Msg: fmt.Sprintf("field %s of %s has type %q, which ebtrace cannot read yet", f.Name, i.Name(), f.Type)}
}

func (i *instance) Attach(prog *ebpf.Program) (io.Closer, error) {
	return attach(i.format, prog)
}

// attach attaches prog to the tracepoint of format f.
func attach(f *kernel.Format, prog *ebpf.Program) (io.Closer, error) {
	l, err := link.Tracepoint(f.Category, f.Name, prog, nil)
	if err != nil {
		return nil, fmt.Errorf("attach tracepoint:%s:%s: %w", f.Category, f.Name, err)
	}
	return l, nil
}
