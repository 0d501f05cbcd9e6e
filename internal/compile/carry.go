package compile

import (
	"fmt"
	"io"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/codegen"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// carryBudget is the most instructions carry puts in one dispatching
// program. The verifier's time grows with the square of a program's
// length (each helper call it inlines moves the instructions after it),
// and every program on the carrier runs its dispatch at each event: at
// 2,500, the 360 programs of @[probe] = count() on sys_enter_* become 8,
// verified in about 8 ms each, where one would take 300 ms.
const carryBudget = 2500

// carry replaces the programs of event instances that a carrier can run
// (probe.Carried) by programs on the carrier that dispatch to their code,
// when a carrier has two or more: tracepoint:syscalls:sys_enter_* becomes
// one program on raw_syscalls:sys_enter instead of hundreds of
// attachments. Each dispatching program takes the place of its first
// instance's, so programs stay in script order, and the instances that
// share a key run in script order within it. A carrier's instances whose
// code outgrows one program are split over several on the same carrier,
// attached in order.
func carry(progs []*Program) []*Program {
	type member struct {
		prog *Program
		key  int64
	}
	byCarrier := map[string][]member{}
	carriers := map[string]*probe.Carrier{}
	for _, p := range progs {
		c, ok := p.Instance.Instance.(probe.Carried)
		if !ok || p.Instance.Instance.Kind() != probe.Event {
			continue
		}
		carrier, key, ok := c.Carrier()
		if !ok {
			continue
		}
		carriers[carrier.Name] = carrier
		byCarrier[carrier.Name] = append(byCarrier[carrier.Name], member{p, key})
	}
	replaced := map[*Program]*Program{} // first member -> its group; others -> nil
	for name, members := range byCarrier {
		if len(members) < 2 {
			continue
		}
		for start := 0; start < len(members); {
			end, size := start, 0
			for end < len(members) && (end == start || size+len(members[end].prog.Insns) <= carryBudget) {
				size += len(members[end].prog.Insns)
				end++
			}
			chunk := members[start:end]
			carried := make([]codegen.Carried, len(chunk))
			for i, m := range chunk {
				carried[i] = codegen.Carried{Key: m.key, Insns: m.prog.Insns}
			}
			insns, err := codegen.Dispatch(carriers[name], carried)
			if err == nil && len(chunk) > 1 {
				first := chunk[0].prog
				group := &Program{Name: first.Name, Insns: insns}
				group.Instance = &check.Instance{Probe: first.Instance.Probe, Index: first.Instance.Index}
				group.Instance.Instance = &carrierInstance{carrier: carriers[name], first: first.Instance.Instance, n: len(chunk)}
				for _, m := range chunk {
					group.Carried = append(group.Carried, m.prog.Instance)
					replaced[m.prog] = nil
				}
				replaced[first] = group
			}
			start = end
		}
	}
	out := make([]*Program, 0, len(progs))
	for _, p := range progs {
		group, ok := replaced[p]
		switch {
		case !ok:
			out = append(out, p)
		case group != nil:
			out = append(out, group)
		}
	}
	return out
}

// carrierInstance is the attach point of a dispatching program: the
// carrier, which the program is attached to, running n instances of
// which first is the first.
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
