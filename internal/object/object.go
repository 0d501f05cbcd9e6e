// Package object runs BPF ELF objects compiled from C, as the 2015 loader
// (samples/bpf/bpf_load.c) and libbpf do: it reads the object with
// cilium/ebpf's ELF reader (BTF-defined maps, the legacy "maps" section
// of struct bpf_map_def, global variables), names the attach point of each
// program from its section, loads the collection with CO-RE relocations
// applied against the running kernel, attaches each program through
// ebtrace's probe providers, and reads what the programs say: bpf_printk
// lines, ring buffer and perf event array records, and the maps at exit.
//
// It owns the mapping from section names to attach points (the table in
// sections.go) and the object's lifetime; how a probe attaches stays with
// its provider under probe/.
package object

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/arch"
)

// Options say how an object is opened and loaded.
type Options struct {
	// Registry resolves attach points; Env is what its providers see of
	// the kernel.
	Registry *probe.Registry
	Env      *probe.Env
	// PerfEvent is the ebtrace probe that SEC("perf_event") programs
	// attach to, e.g. "profile:hz:99" or "interval:s:1".
	PerfEvent string
	// Set gives const volatile globals their values before loading:
	// integers in Go syntax, or strings for char arrays.
	Set map[string]string
	// PinDir pins every map there by name, and keeps them after Close.
	PinDir string
}

// DefaultPerfEvent is what perf_event sections attach to when Options do
// not say: a 99 Hz profile on every CPU, as bpftrace's profile:hz:99.
const DefaultPerfEvent = "profile:hz:99"

// Program is one program of an object and where it attaches.
type Program struct {
	Name    string // the C function's name
	Section string // its ELF section, e.g. "tracepoint/net/netif_receive_skb"
	// Probe is the attach point in ebtrace's terms
	// ("tracepoint:net:netif_receive_skb"); empty when the section names
	// none (a tail call target, a bare SEC("tracepoint")).
	Probe string

	// Err is why the section cannot be attached here, or nil.
	Err *SectionError

	instances []probe.Instance
	raw       string // raw tracepoint name, attached without BTF
}

// Spec is an object read from its ELF file, not yet loaded.
type Spec struct {
	Path     string
	Programs []*Program // sorted by section name, then by name
	spec     *ebpf.CollectionSpec
	opts     Options
}

// Open reads the object at path and resolves every program's attach
// point, without loading anything. A program whose section cannot be
// attached here says why in its Err; Unattachable lists those.
func Open(path string, opts Options) (*Spec, error) {
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if opts.PerfEvent == "" {
		opts.PerfEvent = DefaultPerfEvent
	}
	s := &Spec{Path: path, spec: spec, opts: opts}
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		sa, sb := spec.Programs[a].SectionName, spec.Programs[b].SectionName
		if sa != sb {
			return strings.Compare(sa, sb)
		}
		return strings.Compare(a, b)
	})
	for _, name := range names {
		ps := spec.Programs[name]
		s.Programs = append(s.Programs, s.resolve(ps))
	}
	if len(s.Programs) == 0 {
		return nil, fmt.Errorf("%s has no BPF programs (no executable section)", path)
	}
	return s, nil
}

// SectionError is why a program's section cannot be attached.
type SectionError struct {
	Section, Program string
	Err              error
}

func (e *SectionError) Error() string {
	return fmt.Sprintf("section %q (program %s): %v", e.Section, e.Program, e.Err)
}

func (e *SectionError) Unwrap() error { return e.Err }

// Unattachable lists why the programs whose sections cannot be attached
// here cannot, in program order.
func (s *Spec) Unattachable() []error {
	var errs []error
	for _, p := range s.Programs {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// resolve names ps's attach point and checks that this kernel can attach
// it. A legacy events/CAT/NAME section becomes a tracepoint program here:
// cilium/ebpf does not know that prefix.
func (s *Spec) resolve(ps *ebpf.ProgramSpec) *Program {
	p := &Program{Name: ps.Name, Section: ps.SectionName}
	fail := func(err error) *Program {
		p.Err = &SectionError{Section: ps.SectionName, Program: ps.Name, Err: err}
		return p
	}
	sec, err := parseSection(ps.SectionName)
	if err != nil {
		return fail(err)
	}
	if sec.legacy {
		ps.Type = ebpf.TracePoint
	}
	if sec.provider == "" {
		return p
	}
	attach := sec.provider + ":" + sec.target
	switch sec.provider {
	case "perf_event":
		attach = s.opts.PerfEvent
	case "ksyscall", "kretsyscall":
		var err error
		if attach, err = s.syscallProbe(sec.target, sec.provider == "kretsyscall"); err != nil {
			return fail(err)
		}
	}
	prov, spec, err := s.opts.Registry.Lookup(attach)
	if err != nil {
		return fail(err)
	}
	insts, err := prov.Expand(spec, s.opts.Env)
	if err != nil {
		return fail(err)
	}
	if len(insts) == 0 {
		return fail(fmt.Errorf("%s matches nothing on this kernel", attach))
	}
	for _, inst := range insts {
		if err := inst.Available(); err != nil {
			return fail(err)
		}
		if want := inst.Program().Type; sec.provider != "rawtracepoint" && want != ps.Type {
			return fail(fmt.Errorf("%s needs a %s program, but the section makes it %s", inst.Name(), want, ps.Type))
		}
	}
	p.instances = insts
	p.Probe = insts[0].Name()
	if len(insts) > 1 {
		p.Probe = attach
	}
	if ps.Type == ebpf.RawTracepoint {
		p.raw = sec.target
	}
	return p
}

// syscallProbe is the kprobe of the kernel function that implements
// system call name, as libbpf finds it for ksyscall/ sections: the
// architecture's wrapper (__x64_sys_NAME) where the kernel has one, else
// sys_NAME.
func (s *Spec) syscallProbe(name string, ret bool) (string, error) {
	regs, err := arch.Host()
	if err != nil {
		return "", err
	}
	kind := "kprobe:"
	if ret {
		kind = "kretprobe:"
	}
	wrapper := kind + regs.SyscallWrapper + name
	prov, spec, err := s.opts.Registry.Lookup(wrapper)
	if err != nil {
		return "", err
	}
	if insts, err := prov.Expand(spec, s.opts.Env); err == nil && len(insts) > 0 {
		return wrapper, nil
	}
	return kind + "sys_" + name, nil
}

// List writes one line per program: its section, name and attach point,
// or why it cannot be attached.
func (s *Spec) List(w io.Writer) error {
	width, nameWidth := 0, 0
	for _, p := range s.Programs {
		width, nameWidth = max(width, len(p.Section)), max(nameWidth, len(p.Name))
	}
	for _, p := range s.Programs {
		attach := p.Probe
		if p.Err != nil {
			attach = "cannot attach: " + p.Err.Err.Error()
		} else if attach == "" {
			attach = "(loaded, not attached: the section names no attach point)"
		} else if n := len(p.instances); n > 1 {
			attach += " (" + strconv.Itoa(n) + " attach points)"
		}
		if _, err := fmt.Fprintf(w, "%-*s  %-*s  %s\n", width, p.Section, nameWidth, p.Name, attach); err != nil {
			return err
		}
	}
	return nil
}

// setGlobals gives the const volatile globals their values from opts,
// and targ_tgid the target pid.
func (s *Spec) setGlobals(targetPID int) error {
	set := make(map[string]string, len(s.opts.Set)+1)
	if v, ok := s.spec.Variables["targ_tgid"]; ok && targetPID != 0 && v.Constant() {
		set["targ_tgid"] = strconv.Itoa(targetPID)
	}
	for k, v := range s.opts.Set {
		set[k] = v
	}
	for name, value := range set {
		v, ok := s.spec.Variables[name]
		if !ok {
			return fmt.Errorf("--set %s: the object has no global variable %s%s", name, name, s.globalsHint())
		}
		if err := setVariable(v, value); err != nil {
			return fmt.Errorf("--set %s=%s: %w", name, value, err)
		}
	}
	return nil
}

// globalsHint lists the globals --set can give values to.
func (s *Spec) globalsHint() string {
	var names []string
	for name, v := range s.spec.Variables {
		if v.Constant() && !strings.HasPrefix(name, ".") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return " (it has no const volatile globals)"
	}
	slices.Sort(names)
	return " (it has " + strings.Join(names, ", ") + ")"
}

// setVariable stores value, text from the command line, into v as its
// BTF type says: an integer of v's size, or a NUL-padded string in a char
// array.
func setVariable(v *ebpf.VariableSpec, value string) error {
	if v.Type == nil {
		return errors.New("the object has no BTF for it")
	}
	switch t := btf.UnderlyingType(v.Type.Type).(type) {
	case *btf.Int:
		if t.Encoding&btf.Signed != 0 {
			n, err := strconv.ParseInt(value, 0, int(t.Size)*8)
			if err != nil {
				return fmt.Errorf("want a %d-byte signed integer", t.Size)
			}
			return v.Set(truncate(uint64(n), t.Size))
		}
		n, err := strconv.ParseUint(value, 0, int(t.Size)*8)
		if err != nil {
			return fmt.Errorf("want a %d-byte unsigned integer", t.Size)
		}
		return v.Set(truncate(n, t.Size))
	case *btf.Enum:
		n, err := strconv.ParseInt(value, 0, int(t.Size)*8)
		if err != nil {
			return fmt.Errorf("want an integer")
		}
		return v.Set(truncate(uint64(n), t.Size))
	case *btf.Array:
		if elem, ok := btf.UnderlyingType(t.Type).(*btf.Int); ok && elem.Size == 1 {
			if len(value) >= int(t.Nelems) {
				return fmt.Errorf("the string must be shorter than %d bytes", t.Nelems)
			}
			b := make([]byte, t.Nelems)
			copy(b, value)
			return v.Set(b)
		}
	}
	return fmt.Errorf("cannot set a global of type %v from the command line", v.Type.Type)
}

// truncate returns n as a Go integer of size bytes, which VariableSpec.Set
// encodes in the host's byte order.
func truncate(n uint64, size uint32) any {
	switch size {
	case 1:
		return uint8(n)
	case 2:
		return uint16(n)
	case 4:
		return uint32(n)
	}
	return n
}

// pin marks every map for pinning by name under dir.
func (s *Spec) pin() error {
	if s.opts.PinDir == "" {
		return nil
	}
	if err := mountBPFFS(s.opts.PinDir); err != nil {
		return fmt.Errorf("--pin: %w", err)
	}
	if err := os.MkdirAll(s.opts.PinDir, 0o755); err != nil {
		return fmt.Errorf("--pin: %w", err)
	}
	for name, m := range s.spec.Maps {
		if strings.HasPrefix(name, ".") {
			continue
		}
		m.Pinning = ebpf.PinByName
	}
	return nil
}

// bpffsMount is where systemd and most distributions mount the BPF file
// system.
const bpffsMount = "/sys/fs/bpf"

// mountBPFFS mounts the BPF file system at /sys/fs/bpf when dir is below
// it and nothing is mounted there yet, as ebtrace does for tracefs: a
// fresh machine without systemd's mount has the empty sysfs directory.
func mountBPFFS(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil || !strings.HasPrefix(abs+"/", bpffsMount+"/") {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(bpffsMount, &st); err != nil || st.Type == unix.BPF_FS_MAGIC {
		return err
	}
	if err := unix.Mount("bpf", bpffsMount, "bpf", 0, "mode=0700"); err != nil {
		return fmt.Errorf("mount the BPF file system at %s: %w", bpffsMount, err)
	}
	return nil
}

// pinPath is where map name is pinned, or "".
func (s *Spec) pinPath(name string) string {
	if s.opts.PinDir == "" {
		return ""
	}
	return filepath.Join(s.opts.PinDir, name)
}
