package kprobe

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/types"
)

// group is a wildcard kprobe or kretprobe: one program for every matching
// function, attached through one multi-kprobe link where the kernel has
// them (Linux 5.18+ with fprobe) and through one kprobe link per function
// otherwise. func is the kernel symbol at bpf_get_func_ip.
type group struct {
	ret     bool
	name    string      // the spec as written, kprobe:vfs_*
	members []*instance // one per function, for Split
	env     *probe.Env
}

// haveMulti reports, once per process, whether multi-kprobe links work.
var haveMulti = sync.OnceValue(func() bool { return features.HaveBPFLinkKprobeMulti() == nil })

func (g *group) Name() string     { return g.name }
func (g *group) Kind() probe.Kind { return probe.Event }

// OverridesReturn implements probe.ReturnOverrider, as one member does.
func (g *group) OverridesReturn() bool { return !g.ret }

// Program loads the program for a multi-kprobe link when the kernel has
// them: the attach type is fixed at load time.
func (g *group) Program() probe.Program {
	if haveMulti() {
		return probe.Program{Type: ebpf.Kprobe, AttachType: ebpf.AttachTraceKprobeMulti}
	}
	return probe.Program{Type: ebpf.Kprobe}
}

// Split implements probe.Group.
func (g *group) Split() []probe.Instance {
	out := make([]probe.Instance, len(g.members))
	for i, m := range g.members {
		out[i] = m
	}
	return out
}

func (g *group) Arg(name string) (probe.Arg, error) { return g.members[0].Arg(name) }

// Functions implements probe.FunctionProber.
func (g *group) Functions() []string {
	names := make([]string, len(g.members))
	for i, m := range g.members {
		names[i] = m.fn
	}
	return names
}

// Builtin gives what a member gives, except func: the members differ, so
// it is the symbol of the probed function's address, found at run time.
func (g *group) Builtin(name string) (probe.Arg, bool) {
	if name != "func" {
		return g.members[0].Builtin(name)
	}
	return funcAddress, true
}

// funcAddress is func as the symbol of the probed function's address,
// which bpf_get_func_ip finds at run time.
var funcAddress = probe.Arg{Type: types.Symbol(types.Kernel), Load: func(int16) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.FnGetFuncIp.Call(),
	}
}}

// haveFuncIP reports whether kprobe programs may call bpf_get_func_ip
// (Linux 5.15).
var haveFuncIP = sync.OnceValue(func() bool {
	return features.HaveProgramHelper(ebpf.Kprobe, asm.FnGetFuncIp) == nil
})

// Available implements probe.Instance.
func (g *group) Available() error { return unavailable(g.name, g.members[0].fn, g.ret, g.env) }

// Attach implements probe.Instance.
func (g *group) Attach(prog *ebpf.Program) (io.Closer, error) {
	fns := g.Functions()
	if haveMulti() {
		attach := link.KprobeMulti
		if g.ret {
			attach = link.KretprobeMulti
		}
		l, err := attach(prog, link.KprobeMultiOptions{Symbols: fns})
		if err != nil {
			return nil, fmt.Errorf("attach %s to %d functions: %w", g.name, len(fns), err)
		}
		return l, nil
	}
	var links probe.Links
	for _, m := range g.members {
		l, err := m.Attach(prog)
		if err != nil {
			links.Close()
			return nil, err
		}
		links = append(links, l)
	}
	return links, nil
}

// newGroup makes the group of a wildcard's instances, named after spec.
func newGroup(p Provider, spec string, members []*instance, env *probe.Env) *group {
	return &group{ret: p.ret, name: p.names[0] + ":" + strings.TrimSpace(spec), members: members, env: env}
}
