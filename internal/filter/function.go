package filter

import (
	"sort"
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/source"
)

// kallsyms is where .function looks functions up; tests replace it.
var kallsyms = kernel.Kallsyms

// function compiles FIELD.function == NAME: the field, a kernel address,
// lies inside the function NAME, from its start up to the next symbol's
// address, as the kernel's filter_pred_function checks. NAME is written
// bare, as the kernel wants it, or as an address inside the function.
func (c *compiler) function(e *Expr, f field, yes, no string) {
	if e.Quoted {
		c.errorf(e.ValueSpan, "bad-function", ".function takes a bare function name, without quotes").
			Hint("write %s %s %s", e.Field+".function", e.Op, e.Value)
		return
	}
	syms, err := kallsyms()
	if err != nil {
		c.errorf(e.ValueSpan, "no-symbols", "cannot resolve %q: %v", e.Value, err)
		return
	}
	var start, end uint64
	var ok bool
	if c0 := e.Value[0]; '0' <= c0 && c0 <= '9' {
		addr, valid := c.number(e, field{Field: kernel.Field{Name: f.Name, Type: f.Type, Size: 8}})
		if !valid {
			return
		}
		start, end, ok = functionAt(syms, uint64(addr))
	} else {
		start, end, ok = functionRange(syms, e.Value)
	}
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
	c.Emit(
		asm.LoadImm(asm.R1, int64(start), asm.DWord),
		asm.JLT.Reg(asm.R0, asm.R1, no),
		asm.LoadImm(asm.R1, int64(end), asm.DWord),
		asm.JGE.Reg(asm.R0, asm.R1, no),
		asm.Ja.Label(yes),
	)
}

// functionAt returns the address range of the text symbol containing addr.
func functionAt(syms []kernel.KernelSymbol, addr uint64) (start, end uint64, ok bool) {
	i := sort.Search(len(syms), func(i int) bool { return syms[i].Addr > addr }) - 1
	for ; i >= 0; i-- {
		if syms[i].IsText() {
			return functionRange(syms[i:], syms[i].Name)
		}
	}
	return 0, 0, false
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
