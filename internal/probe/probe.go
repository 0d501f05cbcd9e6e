// Package probe owns attach points: the Provider interface every probe type
// implements and the registry of provider names and aliases. A provider
// expands an attach point (wildcards included) into concrete instances, says
// which BPF program type runs there and what `args` holds, and attaches
// programs. Nothing outside probe/ switches on a probe type's name.
package probe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Env is what providers may ask of the running system. Each part is
// fetched lazily, so a script that needs no tracefs never mounts it.
type Env struct {
	Events func() (*kernel.Events, error)
	// Recorded says the events are a recording's rather than the running
	// kernel's (a replay): a missing one is missing from the recording.
	Recorded bool
	// PID, when non-zero, limits user-space probes to one process (-p).
	PID int
	// Kallsyms replaces the running kernel's symbols in tests.
	Kallsyms func() ([]kernel.KernelSymbol, error)
	// KernelTypes replaces the running kernel's BTF in tests.
	KernelTypes func() (*btf.Spec, error)
	// Unsafe allows the functions that change the system: system(),
	// signal() and override() (--unsafe).
	Unsafe bool
	// CgroupID replaces kernel.CgroupID, which resolves cgroupid(), in
	// tests.
	CgroupID func(path string) (uint64, error)
}

// KfuncAllowed reports whether programs of type pt may call the kernel
// function name.
func (e *Env) KfuncAllowed(name string, pt ebpf.ProgramType) (bool, error) {
	return kernel.KfuncAllowed(name, pt)
}

// Types returns the kernel's BTF, the scripts' source of kernel types.
func (e *Env) Types() (*btf.Spec, error) {
	if e.KernelTypes != nil {
		return e.KernelTypes()
	}
	return kernel.BTF.Kernel()
}

// EnumValue looks name up among the values of the kernel's enums
// (TCP_ESTABLISHED), or of KernelTypes' in tests: its value and the enum
// that names it.
func (e *Env) EnumValue(name string) (int64, *btf.Enum, bool) {
	if e.KernelTypes == nil {
		c, ok := kernel.EnumValue(name)
		if !ok {
			return 0, nil, false
		}
		spec, err := e.Types()
		if err != nil {
			return 0, nil, false
		}
		typ, err := spec.TypeByID(c.Enum)
		en, isEnum := typ.(*btf.Enum)
		return c.Value, en, err == nil && isEnum
	}
	spec, err := e.KernelTypes()
	if err != nil {
		return 0, nil, false
	}
	for typ, err := range spec.All() {
		if err != nil {
			break
		}
		if en, ok := typ.(*btf.Enum); ok {
			for _, v := range en.Values {
				if v.Name == name {
					return int64(v.Value), en, true
				}
			}
		}
	}
	return 0, nil, false
}

// TaskStatusOffset returns the offset of thread_info.status in struct
// task_struct, from KernelTypes in tests, else the running kernel's BTF
// (cached per boot).
func (e *Env) TaskStatusOffset() (int, error) {
	if e.KernelTypes == nil {
		return kernel.TaskStatusOffset()
	}
	spec, err := e.KernelTypes()
	if err != nil {
		return 0, err
	}
	return kernel.TaskStatusIn(spec)
}

// fewDataSymbols is fewer data symbols than a kernel built with
// CONFIG_KALLSYMS_ALL lists (tens of thousands); without it, a few dozen.
const fewDataSymbols = 1000

// KernelAddr returns the address of the kernel symbol name, or *Error
// with close names when there is none.
func (e *Env) KernelAddr(name string) (uint64, error) {
	read := e.Kallsyms
	if read == nil {
		read = kernel.Kallsyms
	}
	syms, err := read()
	if err != nil {
		return 0, err
	}
	var names []string
	data := 0
	for _, s := range syms {
		if !s.IsText() && s.Module == "" {
			data++
		}
		if s.Name == name {
			if s.Addr == 0 {
				return 0, fmt.Errorf("the kernel hides symbol addresses from this user (kptr_restrict): %w", os.ErrPermission)
			}
			return s.Addr, nil
		}
		names = append(names, s.Name)
	}
	e2 := &Error{Msg: fmt.Sprintf("kernel symbol %q does not exist", name)}
	if data < fewDataSymbols {
		e2.Hints = append(e2.Hints, fmt.Sprintf("/proc/kallsyms lists %d data symbols: this kernel was built without CONFIG_KALLSYMS_ALL, so only functions have addresses there", data))
	}
	e2.Suggest(name, names)
	return 0, e2
}

// Kind says when an instance's program runs.
type Kind int

const (
	Event  Kind = iota // attached to a kernel event
	Begin              // run once before any event probe is attached
	End                // run once after every event probe is detached
	Test               // run once under --test, its result checked
	Bench              // run repeatedly under --bench, its time measured
	Signal             // run each time ebtrace receives its signal
)

// Signaled is implemented by the instances of kind Signal: the signal
// that runs them.
type Signaled interface {
	Signal() syscall.Signal
}

// Provider is one probe type.
type Provider interface {
	// Names returns the canonical name followed by aliases, e.g.
	// "tracepoint", "t".
	Names() []string
	// Expand resolves the part of an attach point after "NAME:" into
	// instances. It returns *Error for problems in the spec.
	Expand(spec string, env *Env) ([]Instance, error)
	// Probes lists the instances this provider can attach to, by
	// canonical name. Pattern is the part of the -l pattern after
	// "NAME:" ("*" when the pattern names no provider); providers whose
	// probes live in a file (uprobes) read the path from it, others may
	// list everything and leave matching to the registry. Args is called
	// only for the listed probes under -lv.
	Probes(pattern string, env *Env) ([]Listing, error)
}

// Instance is one concrete attach point.
type Instance interface {
	// Name is the canonical probe name, the value of the `probe` builtin.
	Name() string
	Kind() Kind
	// Program says how the instance's program is loaded.
	Program() Program
	// Arg describes `args.NAME`; it returns *Error when there is none.
	Arg(name string) (Arg, error)
	// Builtin describes a probe-type identifier such as arg0, retval or
	// func; ok is false when this probe type has no such identifier.
	Builtin(name string) (arg Arg, ok bool)
	// Available returns nil when the running kernel can load and attach
	// this instance, else one sentence naming the missing kernel feature
	// and an alternative, wrapping ebpf.ErrNotSupported (a *Unavailable).
	// --dry-run still offers an unavailable instance's program to the
	// verifier.
	Available() error
	// Attach attaches prog; closing the result detaches it.
	Attach(prog *ebpf.Program) (io.Closer, error)
}

// Suggest adds a hint naming up to three of known closest to name, when
// some are close enough.
func (e *Error) Suggest(name string, known []string) {
	if close := source.Closest(name, known, 3); len(close) > 0 {
		e.Hints = append(e.Hints, "did you mean "+strings.Join(close, ", ")+"?")
	}
}

// Links detaches several attachments of one instance as one: a probe on
// several sites or functions.
type Links []io.Closer

// Close closes every link, reporting every failure.
func (ls Links) Close() error {
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// Unavailable is why the running kernel cannot run a probe: one sentence
// naming what it lacks and what to trace instead. It wraps
// ebpf.ErrNotSupported without adding that error's words to the sentence,
// and the error that revealed the lack, if any (an errno such as
// unix.EPERM, os.ErrNotExist, or another *Unavailable), so errors.Is and
// errors.As reach both.
type Unavailable struct {
	Reason string
	Err    error // the cause, or nil; its words are in Reason when they matter
}

func (u *Unavailable) Error() string { return u.Reason }

// Unwrap returns ebpf.ErrNotSupported and the cause.
func (u *Unavailable) Unwrap() []error {
	if u.Err == nil {
		return []error{ebpf.ErrNotSupported}
	}
	return []error{ebpf.ErrNotSupported, u.Err}
}

// Unavailablef formats an *Unavailable as fmt.Errorf does: the errors of
// %w verbs become its cause.
func Unavailablef(format string, args ...any) error {
	e := fmt.Errorf(format, args...)
	u := &Unavailable{Reason: e.Error()}
	switch w := e.(type) {
	case interface{ Unwrap() error }:
		u.Err = w.Unwrap()
	case interface{ Unwrap() []error }:
		u.Err = errors.Join(w.Unwrap()...)
	}
	return u
}

// UserSymbols is implemented by instances on a user-space binary (uprobe,
// usdt): uaddr("NAME") resolves through it.
type UserSymbols interface {
	// UserAddr returns where the symbol name (a variable or a function)
	// lives in the traced process and its size in bytes, or *Error.
	UserAddr(name string) (addr, size uint64, err error)
}

// Group is an Instance that stands for many attach points sharing one
// program, such as a kprobe wildcard attached through one multi-kprobe
// link. The `probe` builtin cannot name the attach point that fired in a
// shared program, so a script that uses it gets Split's instances, one
// program each, instead.
type Group interface {
	Instance
	Split() []Instance
}

// Carried is implemented by instances whose event fires from inside a
// more general one, the carrier, whose context says which of them it is:
// every syscalls:sys_enter_NAME tracepoint fires from raw_syscalls:
// sys_enter, whose id is the syscall's number. The programs of many
// carried instances run as one program attached once to the carrier,
// which dispatches on that key: the kernel attaches and detaches one
// event instead of hundreds, each detach a grace period.
type Carried interface {
	Instance
	// Carrier returns the instance's carrier and the key that selects
	// it there, or ok false when it must run on its own event (the
	// layouts differ, a recording).
	Carrier() (c *Carrier, key int64, ok bool)
}

// Carrier is an event that carries others.
type Carrier struct {
	// Name is the carrier's canonical probe name; carried instances with
	// the same Name share a program.
	Name string
	// KeyOffset is where in the carrier's context the 8-byte signed key
	// lies; the carried instance's arguments lie in the carrier's context
	// where they lie in its own.
	KeyOffset int
	// Guard, when set, runs first with the context in r6 and leaves in
	// r0 a value other than zero for the events that none of the carried
	// events would see: syscalls of 32-bit tasks, which the syscalls
	// tracepoints skip. It may clobber r0-r5.
	Guard asm.Instructions
	// Attach attaches the dispatching program to the carrier.
	Attach func(prog *ebpf.Program) (io.Closer, error)
}

// Program is what the loader needs to know of an instance's program.
type Program struct {
	Type       ebpf.ProgramType
	AttachType ebpf.AttachType // BTF-attached programs (fentry, tp_btf) only
	AttachTo   string          // their kernel function or tracepoint name
}

// BuiltinNames are the identifiers some probe type may define through
// Instance.Builtin; the checker names them in hints.
var BuiltinNames = []string{"arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7", "arg8", "arg9", "retval", "func"}

// Arg says where an argument lives in the program's context and its type.
// A string argument that is not DataLoc is an inline char array of
// Type.Size bytes at Offset.
type Arg struct {
	Type   types.Type
	Offset int // byte offset in the context
	// DataLoc marks a __data_loc string: a u32 at Offset holds
	// (length<<16 | offset of the bytes from the context start).
	DataLoc bool
	// RelLoc marks a __rel_loc string: as DataLoc, but the offset counts
	// from the end of the u32 rather than from the context start.
	RelLoc bool
	// Load, when set, computes an integer or pointer value instead of a
	// context read: given the context pointer in r6, its instructions
	// leave the value in r0, extended to 64 bits as Type says. They may
	// clobber r1-r5 and use the 8 bytes at scratch (an offset from r10).
	Load func(scratch int16) asm.Instructions `json:"-"`
	// Text, for a Str argument, is its value, known when the probe is
	// compiled (func of a uprobe, say).
	Text string
	// Typed marks a pointer that Load copies from the context slot at
	// Offset, where the verifier sees it as a typed kernel pointer: the
	// form helpers such as bpf_d_path require (fentry arguments).
	Typed bool
}

// ReadCopy returns an Arg.Load that reads the 8-byte context slot at off
// through bpf_probe_read_kernel into the scratch slot. A pointer read
// directly from a BTF-typed context (fentry, tp_btf) is a typed kernel
// pointer, on which the verifier forbids most arithmetic a script may do
// (args.file & 0xfff) and which it refuses outright for pointers to
// pointers or functions; a copy is a plain number everywhere.
func ReadCopy(off int) func(scratch int16) asm.Instructions {
	return func(scratch int16) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.R10),
			asm.Add.Imm(asm.R1, int32(scratch)),
			asm.Mov.Imm(asm.R2, 8),
			asm.Mov.Reg(asm.R3, asm.R6),
			asm.Add.Imm(asm.R3, int32(off)),
			asm.FnProbeReadKernel.Call(),
			asm.LoadMem(asm.R0, asm.R10, scratch, asm.DWord),
		}
	}
}

// Error is a problem with an attach point or argument, with hints such as
// close names.
type Error struct {
	Msg   string
	Hints []string
	// Missing marks an attach point that names nothing on this system (no
	// such function, tracepoint or symbol, a wildcard that matches
	// nothing), which the missing_probes setting may let a script skip,
	// as opposed to one that is wrong everywhere.
	Missing bool
}

func (e *Error) Error() string { return e.Msg }

// Registry maps provider names and aliases to providers.
type Registry struct {
	byName    map[string]Provider
	providers []Provider
}

// NewRegistry registers each provider under all of its names.
func NewRegistry(ps ...Provider) *Registry {
	r := &Registry{byName: map[string]Provider{}, providers: ps}
	for _, p := range ps {
		for _, n := range p.Names() {
			if _, dup := r.byName[n]; dup {
				panic("probe: duplicate provider name " + n)
			}
			r.byName[n] = p
		}
	}
	return r
}

// Split separates "tracepoint:syscalls:x" into its provider and spec.
// Attach points without a colon (BEGIN, END) have an empty spec.
func Split(raw string) (provider, spec string) {
	name, spec, _ := strings.Cut(raw, ":")
	return name, spec
}

// Lookup finds the provider for an attach point.
func (r *Registry) Lookup(raw string) (Provider, string, error) {
	name, spec := Split(raw)
	if p, ok := r.byName[name]; ok {
		return p, spec, nil
	}
	var names []string
	for n := range r.byName {
		names = append(names, n)
	}
	e := &Error{Msg: fmt.Sprintf("unknown probe type %q", name)}
	e.Suggest(name, names)
	e.Hints = append(e.Hints, "probe types: "+strings.Join(r.Canonical(), ", "))
	return nil, "", e
}

// Canonical returns the canonical provider names, sorted.
func (r *Registry) Canonical() []string {
	var out []string
	for _, p := range r.providers {
		out = append(out, p.Names()[0])
	}
	sort.Strings(out)
	return out
}

// Listing is one probe as -l shows it.
type Listing struct {
	Name string
	// Args returns the argument declarations shown by -lv, e.g.
	// "const char * filename"; nil when the probe type has none.
	Args func() ([]string, error)
}

// List writes the probes matching pattern, one a line, and with verbose
// their arguments indented below each. Pattern holds package glob's
// wildcards, whose * matches colons too; a provider alias such as t:
// stands for its canonical name.
func (r *Registry) List(env *Env, pattern string, verbose bool, w io.Writer) error {
	if pattern == "" {
		pattern = "*"
	}
	if err := glob.Check(pattern); err != nil {
		return fmt.Errorf("-l: %w", err)
	}
	if name, spec := Split(pattern); strings.Contains(pattern, ":") {
		if p, ok := r.byName[name]; ok {
			pattern = p.Names()[0] + ":" + spec
		}
	}
	for _, p := range r.providers {
		if prefix, _, ok := strings.Cut(pattern, ":"); ok && !glob.HasMeta(prefix) && prefix != p.Names()[0] {
			continue
		}
		spec := "*"
		if _, s, ok := strings.Cut(pattern, ":"); ok {
			spec = s
		}
		list, err := p.Probes(spec, env)
		if err != nil {
			return err
		}
		for _, l := range list {
			if !glob.Match(pattern, l.Name) {
				continue
			}
			fmt.Fprintln(w, l.Name)
			if !verbose || l.Args == nil {
				continue
			}
			args, err := l.Args()
			if err != nil {
				return err
			}
			for _, a := range args {
				fmt.Fprintf(w, "    %s\n", a)
			}
		}
	}
	return nil
}

// CheckPattern returns an *Error about the attach point probe when pattern,
// a part of it, is not a well-formed wildcard pattern.
func CheckPattern(probe, pattern string) error {
	if err := glob.Check(pattern); err != nil {
		return &Error{Msg: fmt.Sprintf("%s: %v", probe, err), Hints: []string{glob.Syntax}}
	}
	return nil
}
