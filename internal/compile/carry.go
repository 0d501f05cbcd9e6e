package compile

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/codegen"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// carry runs the event instances that a carrier can run (probe.Carried)
// on it, when it has two or more: one dispatching program is attached to
// the carrier and tail-calls, through a program array indexed by the
// event's key, the program of the instances with that key.
// tracepoint:syscalls:sys_enter_* becomes one attachment to
// raw_syscalls:sys_enter instead of hundreds, each of which costs the
// kernel a grace period to detach. The instances that share a key (two
// probes on one syscall) are joined into one program, in script order.
// The dispatcher takes the place of its carrier's first instance, so the
// programs the kernel attaches stay in script order; those it calls
// follow it. With perProbe, each probe's instances have dispatchers of
// their own.
func carry(progs []*Program, perProbe bool) []*Program {
	type member struct {
		prog *Program
		key  int64
	}
	var carried []*Program
	for _, p := range progs {
		if _, ok := p.Instance.Instance.(probe.Carried); ok && p.Instance.Instance.Kind() == probe.Event {
			carried = append(carried, p)
		}
	}
	// A carrier runs two or more; finding one reads its format file.
	if len(carried) < 2 {
		return progs
	}
	byCarrier := map[string][]member{}
	carriers := map[string]*probe.Carrier{}
	for _, p := range carried {
		c := p.Instance.Instance.(probe.Carried)
		carrier, key, ok := c.Carrier()
		if !ok || key < 0 || key > codegen.MaxCarriedKey {
			continue
		}
		group := carrier.Name
		if perProbe {
			group = fmt.Sprintf("%s#%d", group, p.Instance.Index)
		}
		carriers[group] = carrier
		byCarrier[group] = append(byCarrier[group], member{p, key})
	}
	replaced := map[*Program][]*Program{} // first member -> the carrier's programs; others -> nil
	for n, name := range slices.Sorted(maps.Keys(byCarrier)) {
		members := byCarrier[name]
		if len(members) < 2 {
			continue
		}
		tails := fmt.Sprintf("ebtrace_tail%d", n)
		var maxKey int64
		byKey := map[int64][]*Program{}
		var keys []int64
		for _, m := range members {
			if _, ok := byKey[m.key]; !ok {
				keys = append(keys, m.key)
			}
			byKey[m.key] = append(byKey[m.key], m.prog)
			maxKey = max(maxKey, m.key)
		}
		first := members[0].prog
		insns, err := codegen.Dispatch(carriers[name], tails, maxKey)
		if err != nil {
			continue
		}
		src := first.Insns[0].Source()
		for i := range insns {
			insns[i] = insns[i].WithSource(src)
		}
		dispatcher := &Program{Name: fmt.Sprintf("ebt_c%d", n), Insns: insns, Tails: tails, MaxKey: maxKey}
		dispatcher.Instance = &check.Instance{Probe: first.Instance.Probe, Index: first.Instance.Index}
		dispatcher.Instance.Instance = &carrierInstance{carrier: carriers[name], first: first.Instance.Instance, n: len(members)}
		group := []*Program{dispatcher}
		for _, key := range keys {
			chain := byKey[key]
			code := make([]asm.Instructions, len(chain))
			called := &Program{Name: chain[0].Name, Instance: chain[0].Instance, Tail: &Tail{Map: tails, Key: key}}
			for i, p := range chain {
				code[i] = p.Insns
				called.Carried = append(called.Carried, p.Instance)
				replaced[p] = nil
			}
			called.Insns = codegen.Chain(code)
			group = append(group, called)
		}
		replaced[first] = group
	}
	out := make([]*Program, 0, len(progs))
	for _, p := range progs {
		group, ok := replaced[p]
		if !ok {
			group = []*Program{p}
		}
		out = append(out, group...)
	}
	return out
}

// carrierInstance is the attach point of a dispatcher: the carrier, which
// the program is attached to, running n instances of which first is the
// first.
type carrierInstance struct {
	carrier *probe.Carrier
	first   probe.Instance
	n       int
}

func (c *carrierInstance) Name() string {
	return fmt.Sprintf("%s (carrying %d probes)", c.carrier.Name, c.n)
}

func (c *carrierInstance) Kind() probe.Kind       { return probe.Event }
func (c *carrierInstance) Program() probe.Program { return c.first.Program() }
func (c *carrierInstance) Available() error       { return c.first.Available() }

// Arg and Builtin are the carried instances' business: their code was
// generated with their own.
func (c *carrierInstance) Arg(name string) (probe.Arg, error) {
	return probe.Arg{}, &probe.Error{Msg: fmt.Sprintf("%s has no arguments of its own", c.Name())}
}

func (c *carrierInstance) Builtin(string) (probe.Arg, bool) { return probe.Arg{}, false }

func (c *carrierInstance) Attach(prog *ebpf.Program) (io.Closer, error) {
	return c.carrier.Attach(prog)
}
