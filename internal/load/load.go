// Package load owns the kernel side of a compiled script: it loads the maps
// and programs (mapping verifier rejections back to script positions),
// attaches event probes through BPF links held by this process, runs BEGIN
// and END, and releases everything with one Close. Links are never pinned,
// so the kernel detaches them when the process dies, however it dies.
package load

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
)

// ErrPrivileges is wrapped by errors caused by missing privileges.
var ErrPrivileges = errors.New("the kernel refused to load BPF programs for lack of privileges")

// Config holds the values programs read at run time.
type Config struct {
	Cpid    uint32
	StartNs uint64 // CLOCK_MONOTONIC at start; `elapsed` counts from it
	// TAIOffset is CLOCK_TAI minus CLOCK_BOOTTIME at start (see
	// kernel.TAIOffset): nsecs(sw_tai) is the boot clock plus it.
	TAIOffset uint64
	Stopped   bool
}

// Bytes is the config map's only value.
func (c Config) Bytes() []byte {
	buf := make([]byte, plan.ConfigSize)
	binary.LittleEndian.PutUint64(buf[plan.ConfigCpid:], uint64(c.Cpid))
	binary.LittleEndian.PutUint64(buf[plan.ConfigStartNs:], c.StartNs)
	binary.LittleEndian.PutUint64(buf[plan.ConfigTAIOffset:], c.TAIOffset)
	if c.Stopped {
		buf[plan.ConfigStopped] = 1
	}
	return buf
}

// Object is a loaded script.
type Object struct {
	Result *compile.Result
	cfg    Config
	coll   *ebpf.Collection
	links  []io.Closer
}

// VerifierError is a program the kernel rejected, tied to the script
// position of the instruction it rejected.
type VerifierError struct {
	Diag *source.Diagnostics
	Log  []string // the verifier's log lines
}

func (e *VerifierError) Error() string { return e.Diag.Error() }

// ProgramError is a program the kernel refused to load, by its name in
// the collection (compile.Program.Name). It wraps cilium/ebpf's error, a
// *ebpf.VerifierError when the verifier left a log.
type ProgramError struct {
	Program string
	Err     error
}

func (e *ProgramError) Error() string { return "program " + e.Program + ": " + e.Err.Error() }
func (e *ProgramError) Unwrap() error { return e.Err }

// collectionOptions share the kernel's decoded BTF with the providers
// that read it: fentry and tp_btf programs name their target by BTF ID.
var collectionOptions = ebpf.CollectionOptions{Cache: kernel.BTF}

// newCollection creates spec's maps, then loads its programs one at a
// time, on as many threads as there are CPUs, so that a refusal is a
// *ProgramError naming the program (the first in name order):
// cilium/ebpf's own collection loader names it only in its error's text.
// The maps in replace stand in for the spec's maps of the same names.
func newCollection(spec *ebpf.CollectionSpec, replace map[string]*ebpf.Map) (*ebpf.Collection, error) {
	mapsOnly := *spec
	mapsOnly.Programs = nil
	mapsOnly.Maps = make(map[string]*ebpf.MapSpec, len(spec.Maps))
	for name, m := range spec.Maps {
		mapsOnly.Maps[name] = withoutPrograms(m)
	}
	opts := collectionOptions
	opts.MapReplacements = replace
	coll, err := ebpf.NewCollectionWithOptions(&mapsOnly, opts)
	if err != nil {
		return nil, err
	}
	coll.Programs = make(map[string]*ebpf.Program, len(spec.Programs))
	names := sortedPrograms(spec)
	progs, errs := make([]*ebpf.Program, len(names)), make([]error, len(names))
	// The verifier runs in the loading thread: one loader per CPU.
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.NumCPU(), len(names)) {
		wg.Go(func() {
			for i := range next {
				progs[i], errs[i] = loadProgram(spec, names[i], coll.Maps)
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, name := range names {
		if progs[i] != nil {
			coll.Programs[name] = progs[i]
		}
	}
	for i, name := range names {
		if errs[i] != nil {
			coll.Close()
			return nil, &ProgramError{Program: name, Err: errs[i]}
		}
	}
	if err := fillProgramArrays(spec, coll); err != nil {
		coll.Close()
		return nil, err
	}
	return coll, nil
}

// withoutPrograms returns m without the programs a program array names in
// its contents, which are loaded after the maps.
func withoutPrograms(m *ebpf.MapSpec) *ebpf.MapSpec {
	if m.Type != ebpf.ProgramArray {
		return m
	}
	c := m.Copy()
	c.Contents = nil
	return c
}

// fillProgramArrays puts each loaded program a program array names in
// its slot; a program left out (Verify's unavailable ones) leaves its slot
// empty.
func fillProgramArrays(spec *ebpf.CollectionSpec, coll *ebpf.Collection) error {
	for name, m := range spec.Maps {
		if m.Type != ebpf.ProgramArray {
			continue
		}
		for _, kv := range m.Contents {
			prog := coll.Programs[kv.Value.(string)]
			if prog == nil {
				continue
			}
			if err := coll.Maps[name].Put(kv.Key, prog); err != nil {
				return fmt.Errorf("program array %s: %w", name, err)
			}
		}
	}
	return nil
}

// loadProgram loads one program of spec against the maps already created
// for it. A program that consults kernel BTF as it loads goes through a
// collection, whose loader shares the decoded BTF (kernel.BTF) and clones
// the maps; the others, such as a wildcard's hundreds of tracepoints, are
// loaded directly, which spares a dup and a close per map and program.
func loadProgram(spec *ebpf.CollectionSpec, name string, maps map[string]*ebpf.Map) (*ebpf.Program, error) {
	p := spec.Programs[name]
	if !needsKernelBTF(p) {
		direct := p.Copy()
		for i := range direct.Instructions {
			ins := &direct.Instructions[i]
			if m := maps[ins.Reference()]; ins.IsLoadFromMap() && m != nil {
				if err := ins.AssociateMap(m); err != nil {
					return nil, err
				}
			}
		}
		return ebpf.NewProgramWithOptions(direct, collectionOptions.Programs)
	}
	one := &ebpf.CollectionSpec{
		Maps:      map[string]*ebpf.MapSpec{},
		Programs:  map[string]*ebpf.ProgramSpec{name: p},
		Types:     spec.Types,
		ByteOrder: spec.ByteOrder,
	}
	opts := collectionOptions
	opts.MapReplacements = map[string]*ebpf.Map{}
	for i := range p.Instructions {
		ref := p.Instructions[i].Reference()
		if !p.Instructions[i].IsLoadFromMap() || ref == "" || spec.Maps[ref] == nil || maps[ref] == nil {
			continue
		}
		one.Maps[ref] = withoutPrograms(spec.Maps[ref])
		opts.MapReplacements[ref] = maps[ref]
	}
	coll, err := ebpf.NewCollectionWithOptions(one, opts)
	if err != nil {
		return nil, err
	}
	prog := coll.Programs[name]
	delete(coll.Programs, name)
	coll.Close()
	return prog, nil
}

// needsKernelBTF reports whether loading p consults kernel BTF: for its
// attach target, a kernel function it calls, or a CO-RE relocation left
// to cilium/ebpf.
func needsKernelBTF(p *ebpf.ProgramSpec) bool {
	if p.AttachTo != "" {
		return true
	}
	for i := range p.Instructions {
		if p.Instructions[i].IsKfuncCall() || btf.CORERelocationMetadata(&p.Instructions[i]) != nil {
			return true
		}
	}
	return false
}

// DryRun is what Verify found.
type DryRun struct {
	Verified int // programs the verifier accepted
	// Unattachable are the reasons this kernel cannot run probes whose
	// programs the verifier accepted nonetheless (kprobes without
	// CONFIG_KPROBES: the program type is there, the attach point not).
	Unattachable []error
	// Unloadable are the reasons for probes whose programs this kernel
	// refuses to load at all (fentry under lockdown); they were compiled.
	Unloadable []error
}

// Verify loads r's maps and programs through the verifier and unloads them
// again, for --dry-run. A program whose probe the kernel cannot run is
// still offered to the verifier, on its own: it may load, or the kernel may
// refuse it for the reason its probe gave.
func Verify(r *compile.Result) (*DryRun, error) {
	spec, err := relocatedSpec(r)
	if err != nil {
		return nil, err
	}
	if err := missingHelpers(r, spec); err != nil {
		return nil, err
	}
	unavailable := map[string]error{}
	for _, p := range r.Programs {
		if err := p.Instance.Instance.Available(); err != nil {
			delete(spec.Programs, p.Name)
			unavailable[p.Name] = err
		}
	}
	coll, err := newCollection(spec, nil)
	if err != nil {
		return nil, explain(r, err)
	}
	coll.Close()
	dry := &DryRun{Verified: len(r.Programs) - len(unavailable)}
	for _, p := range r.Programs {
		reason, ok := unavailable[p.Name]
		if !ok {
			continue
		}
		one, err := relocatedSpec(r)
		if err != nil {
			return nil, err
		}
		one.Programs = map[string]*ebpf.ProgramSpec{p.Name: one.Programs[p.Name]}
		coll, err := newCollection(one, nil)
		var ve *ebpf.VerifierError
		switch {
		case err == nil:
			coll.Close()
			dry.Verified++
			dry.Unattachable = append(dry.Unattachable, reason)
		case errors.Is(err, ebpf.ErrNotSupported), errors.Is(err, unix.EPERM), errors.Is(err, unix.EINVAL) && !errors.As(err, &ve):
			dry.Unloadable = append(dry.Unloadable, reason)
		default:
			return nil, explain(r, err)
		}
	}
	return dry, nil
}

// liftMemlock lifts RLIMIT_MEMLOCK once per process, for kernels before
// 5.11, which charge BPF maps and programs to it (64 KiB by default on
// many). Newer kernels charge memory cgroups instead, and the limit is
// left alone. Without CAP_SYS_RESOURCE the limit stays, and a load that
// exceeds it fails with its own error. The kernel's release decides
// rather than cilium/ebpf's rlimit package, whose initialisation probes
// the kernel with a map in every process that imports it.
var liftMemlock = sync.OnceFunc(func() {
	if !kernel.ReleaseAtLeast(5, 11) {
		unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY})
	}
})

// Load creates the maps and programs of r in the kernel.
func Load(r *compile.Result, cfg Config) (*Object, error) { return load(r, cfg, nil, nil) }

// load creates r's maps and programs: only the named programs when
// programs is not nil, and, when prepare is not nil, the maps it returns
// (by kernel name) in place of the spec's (LoadShared).
func load(r *compile.Result, cfg Config, programs []string, prepare func(*ebpf.CollectionSpec, *plan.Plan) (map[string]*ebpf.Map, error)) (*Object, error) {
	liftMemlock()
	chosen := func(name string) bool { return programs == nil || slices.Contains(programs, name) }
	for _, p := range r.Programs {
		if !chosen(p.Name) {
			continue
		}
		if err := p.Instance.Instance.Available(); err != nil {
			return nil, err
		}
	}
	spec, err := relocatedSpec(r)
	if err != nil {
		return nil, err
	}
	if programs != nil {
		keep := map[string]*ebpf.ProgramSpec{}
		for name, ps := range spec.Programs {
			if chosen(name) {
				keep[name] = ps
			}
		}
		spec.Programs = keep
	}
	if err := missingHelpers(r, spec); err != nil {
		return nil, err
	}
	spec.Maps[plan.ConfigMap].Contents = []ebpf.MapKV{{Key: uint32(0), Value: cfg.Bytes()}}
	var replace map[string]*ebpf.Map
	if prepare != nil {
		if replace, err = prepare(spec, r.Plan); err != nil {
			return nil, err
		}
		if _, ok := replace[plan.ConfigMap]; ok {
			spec.Maps[plan.ConfigMap].Contents = nil
		}
	}
	coll, err := newCollection(spec, replace)
	if err != nil {
		return nil, explain(r, err)
	}
	return &Object{Result: r, cfg: cfg, coll: coll}, nil
}

// explain turns a load failure into a script diagnostic or a clear error.
func explain(r *compile.Result, err error) error {
	if lerr := loopError(r, err); lerr != nil {
		return lerr
	}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		if verr := verifierError(r, err, ve); verr != nil {
			return verr
		}
		return err
	}
	if errors.Is(err, unix.EPERM) {
		// Not err itself: cilium/ebpf appends a MEMLOCK hint to every
		// EPERM, which is wrong on kernels that charge BPF memory to the
		// memory cgroup.
		if !kernel.CurrentAccess().Privileged() {
			return fmt.Errorf("%w (EPERM)", ErrPrivileges)
		}
		return fmt.Errorf("the kernel refused to load BPF programs (%w)", unix.EPERM)
	}
	return err
}

// verifierError ties a rejection to the script position of the failing
// instruction, or returns nil when the program is not one of r's.
func verifierError(r *compile.Result, err error, ve *ebpf.VerifierError) *VerifierError {
	var pe *ProgramError
	if !errors.As(err, &pe) {
		return nil
	}
	for _, p := range r.Programs {
		if p.Name != pe.Program {
			continue
		}
		d := &source.Diagnostics{File: r.File}
		pos, last := failingPosition(p.Insns, ve.Log)
		if pos == nil {
			pos = &emit.Position{File: r.File, Span: p.Instance.Probe.Sp}
		}
		d.Add(pos.Span, "verifier", "the kernel's verifier rejected the code for this (in %s): %s", p.Instance.Instance.Name(), last).
			Hint("run with -v to see the verifier's log")
		return &VerifierError{Diag: d, Log: ve.Log}
	}
	return nil
}

var insnRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+): \(`) })

// failingPosition finds the last instruction the verifier log mentions and
// returns its script position and the log's last line.
func failingPosition(insns asm.Instructions, log []string) (*emit.Position, string) {
	last := ""
	for i := len(log) - 1; i >= 0 && last == ""; i-- {
		last = strings.TrimSpace(log[i])
		if strings.HasPrefix(last, "processed ") || strings.HasPrefix(last, "verification time") {
			last = ""
		}
	}
	offset := -1
	for _, line := range log {
		if m := insnRe().FindStringSubmatch(line); m != nil {
			offset, _ = strconv.Atoi(m[1])
		}
	}
	if offset < 0 {
		return nil, last
	}
	iter := insns.Iterate()
	for iter.Next() {
		if int(iter.Offset) == offset {
			if p, ok := iter.Ins.Source().(emit.Position); ok {
				return &p, last
			}
		}
	}
	return nil, last
}

// Program returns the loaded program of a compiled one.
func (o *Object) Program(p *compile.Program) *ebpf.Program { return o.coll.Programs[p.Name] }

// Map returns a loaded map by kernel name.
func (o *Object) Map(name string) *ebpf.Map { return o.coll.Maps[name] }

// Attach attaches every event probe.
func (o *Object) Attach() error {
	for _, p := range o.Programs(probe.Event) {
		if p.Tail != nil {
			continue // a dispatcher calls it
		}
		l, err := p.Instance.Instance.Attach(o.Program(p))
		if err != nil {
			return err
		}
		o.links = append(o.links, l)
	}
	return nil
}

// Run executes every program of the given kind (BEGIN, END, or the self
// probes of a signal) once, in script order.
func (o *Object) Run(kind probe.Kind) error {
	for _, p := range o.Programs(kind) {
		if _, err := o.RunOnce(p); err != nil {
			return err
		}
	}
	return nil
}

// Stop makes every event program return at once, without detaching: the
// kernel takes a grace period to detach each tracepoint, which Close pays
// after the results are printed.
func (o *Object) Stop() error {
	o.cfg.Stopped = true
	if err := o.Map(plan.ConfigMap).Update(uint32(0), o.cfg.Bytes(), ebpf.UpdateExist); err != nil {
		return fmt.Errorf("stop probes: %w", err)
	}
	return nil
}

// detach closes every link, in parallel: each tracepoint detach waits for
// an RCU grace period, and concurrent closes share part of that wait.
func (o *Object) detach() error {
	errs := make([]error, len(o.links))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, l := range o.links {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = l.Close()
			<-sem
		}()
	}
	wg.Wait()
	o.links = nil
	return errors.Join(errs...)
}

// Close detaches everything and releases all kernel objects.
func (o *Object) Close() error {
	err := o.detach()
	o.coll.Close()
	return err
}
