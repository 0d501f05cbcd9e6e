package symbols

import (
	"fmt"
	"os"
	"sync"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// Kernel returns the running kernel's code symbols, built once per process
// from kernel.Kallsyms. Module symbols keep their bare name, as bpftrace
// prints them. Sizes are unknown: a symbol extends to the next one, and the
// last to the end of the address space.
func Kernel() (*Table, error) { return kernelTable() }

var kernelTable = sync.OnceValues(func() (*Table, error) {
	syms, err := kernel.Kallsyms()
	if err != nil {
		return nil, err
	}
	return newKernelTable(syms)
})

// newKernelTable keeps the code symbols: data symbols (b, d, r in either
// case) would otherwise cut the last function of a section short or name
// a code address after a data section's marker. Of symbols sharing an
// address the first in kallsyms order names it.
func newKernelTable(syms []kernel.KernelSymbol) (*Table, error) {
	var cands []candidate
	hidden := true
	for _, s := range syms {
		switch s.Type {
		case 'b', 'B', 'd', 'D', 'r', 'R':
			continue
		}
		hidden = hidden && s.Addr == 0
		cands = append(cands, candidate{Symbol: Symbol{Name: s.Name, Addr: s.Addr}})
	}
	if hidden && len(cands) > 0 {
		return nil, fmt.Errorf("kernel symbols: the kernel hides their addresses from this user (kptr_restrict): %w", os.ErrPermission)
	}
	return newTable(cands), nil
}
