package filter

import (
	"strings"

	"github.com/cilium/ebpf/asm"

	"ebtrace/kernel"
	"ebtrace/source"
)

// kallsyms is where .function looks functions up; tests replace it.
var kallsyms = kernel.Kallsyms

// function compiles FIELD.function == NAME: the field, a kernel address,
// lies inside the function NAME, from its start up to the next symbol's
// address, as the kernel's filter_pred_function checks.
func (c *compiler) function(e *Expr, f field, yes, no string) {
	syms, err := kallsyms()
	if err != nil {
		c.errorf(e.ValueSpan, "no-symbols", "cannot resolve %q: %v", e.Value, err)
		return
	}
	start, end, ok := functionRange(syms, e.Value)
	if !ok {
		var names []string
		for _, s := range syms {
			if s.IsText() {
				names = append(names, s.Name)
			}
		}
		d := c.errorf(e.ValueSpan, "unknown-function", "no kernel function %q", e.Value)
		if close := source.Closest(e.Value, names, 3); len(close) > 0 {
			d.Hint("did you mean %s?", strings.Join(close, ", "))
		}
		return
	}
	if start == 0 {
		c.errorf(e.ValueSpan, "no-symbols", "kernel addresses read as 0: /proc/kallsyms needs root")
		return
	}
	if e.Op == Ne {
		yes, no = no, yes
	}
	c.loadNumber(f)
	c.emit(
		asm.LoadImm(asm.R1, int64(start), asm.DWord),
		asm.JLT.Reg(asm.R0, asm.R1, no),
		asm.LoadImm(asm.R1, int64(end), asm.DWord),
		asm.JGE.Reg(asm.R0, asm.R1, no),
		asm.Ja.Label(yes),
	)
}

// functionRange returns the address range of the first text symbol called
// name in syms (sorted by address).
func functionRange(syms []kernel.KernelSymbol, name string) (start, end uint64, ok bool) {
	for i, s := range syms {
		if !s.IsText() || s.Name != name {
			continue
		}
		end = s.Addr + 1
		for _, next := range syms[i+1:] {
			if next.Addr > s.Addr {
				end = next.Addr
				break
			}
		}
		return s.Addr, end, true
	}
	return 0, 0, false
}
