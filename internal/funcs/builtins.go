package funcs

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Values of the running system that take no argument: a script may write
// them bare (rand) or called (rand()), as bpftrace's standard library
// allows.

var rand = Func{
	Name: "rand", Bare: true, Doc: "a pseudo-random 32-bit number",
	Check: noArguments(types.IntOf(4, false)),
	Int:   helperValue(asm.FnGetPrandomU32),
}

var jiffies = Func{
	Name: "jiffies", Bare: true, Doc: "the kernel's jiffies counter",
	Check: noArguments(types.UInt64),
	Int:   helperValue(asm.FnJiffies64),
}

var numaid = Func{
	Name: "numaid", Bare: true, Doc: "the NUMA node the probe runs on",
	Check: noArguments(types.IntOf(4, false)),
	Int:   helperValue(asm.FnGetNumaNodeId),
}

// ncpus is the number of possible CPUs, known when the script compiles.
var ncpus = Func{
	Name: "ncpus", Bare: true, Doc: "the number of CPUs the kernel may run",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		n, err := ebpf.PossibleCPU()
		if err != nil {
			c.Errorf(e.Sp, "kernel", "ncpus: %v", err)
			return types.UInt64
		}
		c.SetConst(e, uint64(n))
		return types.UInt64
	},
	Int: loadConst,
}
