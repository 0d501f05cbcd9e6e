// Package compile runs the front half of the pipeline — parse, check, plan,
// codegen — and assembles a deterministic ebpf.CollectionSpec. It makes no
// bpf(2) calls; tracefs is read only to resolve attach points and args.
package compile

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/codegen"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/preprocess"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// Result is a compiled script.
type Result struct {
	File     *source.File
	AST      *syntax.Program
	Info     *check.Info
	Plan     *plan.Plan
	Programs []*Program
	// Flush is plan.FlushProgram, when a map has count slots.
	Flush asm.Instructions
	// Ring says whether the collection has plan.EventsMap: only when
	// some program sends through it, or Options.KeepRing says so.
	// Creating the kernel's 1 MB ring takes about a millisecond.
	Ring bool
}

// Program is the code of one probe instance, or of several that one
// carrier runs (see carry).
type Program struct {
	Name     string // kernel object name
	Instance *check.Instance
	Insns    asm.Instructions
	// Carried, for a program a carrier's dispatcher tail-calls, are the
	// instances whose code it runs, in script order, all with the key of
	// its slot in the program array.
	Carried []*check.Instance
	// Tail, for such a program, is its slot.
	Tail *Tail
	// Tails, for a carrier's dispatcher, is the program array it calls
	// into, which has MaxKey+1 slots.
	Tails  string
	MaxKey int64
}

// Tail is where a program is in a dispatcher's program array.
type Tail struct {
	Map string
	Key int64
}

// Probes is how many probe instances the program runs: a dispatcher's are
// counted in the programs it calls.
func (p *Program) Probes() int {
	switch {
	case p.Tails != "":
		return 0
	case p.Tail != nil:
		return len(p.Carried)
	}
	return 1
}

// Options tune compilation.
type Options struct {
	// Plan sizes resources; the script's config block and the
	// environment (see check.Config) override it.
	Plan  plan.Options
	Check check.Options
	// TaskCommOffset, when set, is asked for the offset of comm in struct
	// task_struct if the script uses comm (see kernel.TaskCommOffset);
	// on error the code falls back to bpf_get_current_comm().
	TaskCommOffset func() (int, error)
	// KernelFuncID, when set, resolves kernel functions that the code may
	// call (see codegen.Options.KernelFunc).
	KernelFuncID func(name string) (btf.TypeID, error)
	// KeepOnPass: see codegen.Options.
	KeepOnPass bool
	// NoCarriers gives every instance a program attached to its own
	// event, even where a carrier could run many as one (see carry): for
	// the user-space engine, which reads each event as tracefs records it.
	NoCarriers bool
	// CarryPerProbe runs only the instances of one probe in each of a
	// carrier's programs, for the shell, which attaches and detaches each
	// probe on its own.
	CarryPerProbe bool
	// CountSlots, when set, says whether the kernel can run
	// plan.FlushProgram on a chosen CPU: with Plan.CountSlots, maps
	// then get count slots where they may (see plan/slots.go) unless it
	// returns an error. It is asked only when some map may.
	CountSlots func() error
	// CPUs is how many CPUs the programs run on; 0 for this machine's
	// possible CPUs. A replay runs on the recording machine's.
	CPUs int
	// KeepRing gives the collection plan.EventsMap even when no program
	// sends through it: the shell's later statements share the ring of
	// its first.
	KeepRing bool
	// PIDNamespace, when set, says which PID namespace ebtrace runs in
	// (see kernel.PIDNamespace): outside the initial one, pid and tid are
	// its numbers (see codegen.Options.PIDNamespace).
	PIDNamespace func() (dev, ino uint64, initial bool, err error)
}

// Compile compiles file, after the C preprocessor's pass over it. Script
// problems come back as *source.Diagnostics; environment problems as
// wrapped errors.
func Compile(file *source.File, reg *probe.Registry, env *probe.Env, opts Options) (*Result, error) {
	file, err := preprocess.Run(file, preprocess.Options{Defines: preprocess.Predefined(), SystemDirs: check.HeaderDirs})
	if err != nil {
		return nil, err
	}
	ast, err := syntax.Parse(file)
	if err != nil {
		return nil, err
	}
	r := &Result{File: file, AST: ast}
	r.Info, err = check.CheckWith(ast, reg, env, opts.Check)
	if err != nil {
		return r, err
	}
	popts := planOptions(opts.Plan, r.Info.Config)
	popts.CountSlots = popts.CountSlots && opts.CountSlots != nil
	r.Plan = plan.New(r.Info, popts)
	if r.Plan.SlotStride > 0 && opts.CountSlots() != nil {
		r.Plan.DropSlots()
	}
	cpus := opts.CPUs
	if cpus == 0 {
		if cpus, err = ebpf.PossibleCPU(); err != nil {
			return r, fmt.Errorf("count the possible CPUs: %w", err)
		}
	}
	if r.Plan.SlotStride > 0 {
		r.Plan.SlotCPUs = cpus
		r.Flush = codegen.Flush(r.Plan)
	}
	gopts := codegen.Options{KernelFunc: opts.KernelFuncID, KeepOnPass: opts.KeepOnPass, CPUs: cpus}
	if opts.PIDNamespace != nil {
		dev, ino, initial, err := opts.PIDNamespace()
		if err != nil {
			return r, err
		}
		if !initial {
			gopts.PIDNamespace = &codegen.Namespace{Dev: dev, Ino: ino}
		}
	}
	if opts.TaskCommOffset != nil && usesComm(ast) {
		if off, err := opts.TaskCommOffset(); err == nil {
			gopts.TaskComm = off
		}
	}
	diags := &source.Diagnostics{File: file}
	for i, in := range r.Info.Instances {
		insns, err := codegen.Generate(r.Info, r.Plan, i, gopts)
		var d *source.Diagnostics
		if errors.As(err, &d) {
			diags.Items = append(diags.Items, d.Items...)
			continue
		}
		if err != nil {
			return r, err
		}
		r.Programs = append(r.Programs, &Program{Name: fmt.Sprintf("ebt_p%d", i), Instance: in, Insns: insns})
	}
	if err := diags.Err(); err != nil {
		return r, err
	}
	r.Ring = opts.KeepRing || r.references(plan.EventsMap)
	if !opts.NoCarriers && !opts.KeepOnPass {
		r.Programs = carry(r.Programs, opts.CarryPerProbe)
	}
	return r, nil
}

// planOptions applies the script's configuration to the plan's options.
func planOptions(opts plan.Options, cfg check.Config) plan.Options {
	if cfg.MapKeysMax != 0 {
		opts.MaxEntries = cfg.MapKeysMax
	}
	if cfg.PerfRbPages != 0 {
		opts.RingSize = cfg.PerfRbPages * uint32(os.Getpagesize())
	}
	return opts
}

func usesComm(p *syntax.Program) bool {
	found := false
	for _, probe := range p.Probes {
		syntax.Inspect(probe, func(n syntax.Node) bool {
			if id, ok := n.(*syntax.Ident); ok && id.Name == "comm" {
				found = true
			}
			return !found
		})
	}
	return found
}

// references reports whether a program refers to the map named name.
func (r *Result) references(name string) bool {
	for _, p := range r.Programs {
		for _, ins := range p.Insns {
			if ins.Reference() == name {
				return true
			}
		}
	}
	return false
}

// Spec returns the collection to load: the shared maps, each script map and
// every program.
func (r *Result) Spec() *ebpf.CollectionSpec {
	spec := &ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{
			plan.StatsMap: {
				Name: plan.StatsMap, Type: ebpf.Array, KeySize: 4,
				ValueSize: uint32(8 * r.Plan.StatCount()), MaxEntries: 1,
			},
			plan.ConfigMap: {
				Name: plan.ConfigMap, Type: ebpf.Array, KeySize: 4,
				ValueSize: plan.ConfigSize, MaxEntries: 1,
			},
		},
		Programs: map[string]*ebpf.ProgramSpec{},
	}
	if r.Ring {
		spec.Maps[plan.EventsMap] = &ebpf.MapSpec{Name: plan.EventsMap, Type: ebpf.RingBuf, MaxEntries: r.Plan.RingSize}
	}
	if r.references(plan.ScratchMap) {
		spec.Maps[plan.ScratchMap] = &ebpf.MapSpec{
			Name: plan.ScratchMap, Type: ebpf.PerCPUArray, KeySize: 4,
			ValueSize: codegen.ScratchSize, MaxEntries: 1,
		}
	}
	for _, s := range r.Plan.Stacks {
		spec.Maps[s.Name] = &ebpf.MapSpec{
			Name: s.Name, Type: ebpf.StackTrace, KeySize: 4,
			ValueSize: uint32(8 * s.Depth), MaxEntries: r.Plan.MaxEntries,
		}
	}
	if r.Plan.StackBuffer > 0 {
		spec.Maps[plan.StackBufferMap] = &ebpf.MapSpec{
			Name: plan.StackBufferMap, Type: ebpf.PerCPUArray, KeySize: 4,
			ValueSize: uint32(r.Plan.StackBuffer), MaxEntries: 1,
		}
	}
	if r.Flush != nil {
		spec.Maps[plan.SlotsMap] = &ebpf.MapSpec{
			Name: plan.SlotsMap, Type: ebpf.Array, KeySize: 4,
			ValueSize: uint32(r.Plan.SlotsSize()), MaxEntries: 1,
		}
		spec.Programs[plan.FlushProgram] = &ebpf.ProgramSpec{
			Name: plan.FlushProgram, Type: ebpf.RawTracepoint,
			Instructions: r.Flush, License: r.Info.Config.License,
		}
	}
	for _, m := range r.Plan.Maps {
		spec.Maps[m.BPFName] = &ebpf.MapSpec{
			Name: m.BPFName, Type: m.MapType(), KeySize: uint32(m.KeySize),
			ValueSize: uint32(m.ValueSize), MaxEntries: m.MaxEntries,
		}
	}
	for _, p := range r.Programs {
		if p.Tails != "" {
			spec.Maps[p.Tails] = &ebpf.MapSpec{
				Name: p.Tails, Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4,
				MaxEntries: uint32(p.MaxKey + 1),
			}
		}
	}
	for _, p := range r.Programs {
		if p.Tail != nil {
			tails := spec.Maps[p.Tail.Map]
			tails.Contents = append(tails.Contents, ebpf.MapKV{Key: uint32(p.Tail.Key), Value: p.Name})
		}
		prog := p.Instance.Instance.Program()
		spec.Programs[p.Name] = &ebpf.ProgramSpec{
			Name:         p.Name,
			Type:         prog.Type,
			AttachType:   prog.AttachType,
			AttachTo:     prog.AttachTo,
			Instructions: p.Insns,
			License:      r.Info.Config.License,
		}
	}
	return spec
}
