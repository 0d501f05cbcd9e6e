package load

import (
	"fmt"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/corerelo"
	"github.com/ebtrace/ebtrace/internal/kernel"
)

// Relocated is what CO-RE relocation changed in one program.
type Relocated struct {
	Program string
	Applied []corerelo.Applied
}

// Relocations resolves the CO-RE relocations of r's programs against
// target (the running kernel's BTF when nil), as loading does, and
// reports them without loading anything: `-d core`.
func Relocations(r *compile.Result, target *btf.Spec) ([]Relocated, error) {
	spec := r.Spec()
	var out []Relocated
	err := relocate(spec, target, func(name string, applied []corerelo.Applied) {
		out = append(out, Relocated{Program: name, Applied: applied})
	})
	return out, err
}

// relocatedSpec returns r's collection with CO-RE relocations resolved for the
// running kernel.
func relocatedSpec(r *compile.Result) (*ebpf.CollectionSpec, error) {
	s := r.Spec()
	return s, relocate(s, nil, func(string, []corerelo.Applied) {})
}

// relocate resolves every program's relocations in place, fetching the
// target BTF only when some program has relocations.
func relocate(s *ebpf.CollectionSpec, target *btf.Spec, report func(string, []corerelo.Applied)) error {
	for _, name := range sortedPrograms(s) {
		p := s.Programs[name]
		if !hasRelocations(p) {
			continue
		}
		if target == nil {
			t, err := kernel.BTF.Kernel()
			if err != nil {
				return fmt.Errorf("CO-RE relocations need the kernel's BTF: %w", err)
			}
			target = t
		}
		insns, applied, err := corerelo.Apply(p.Instructions, target)
		if err != nil {
			return fmt.Errorf("CO-RE relocation for this kernel: %w", err)
		}
		p.Instructions = insns
		report(name, applied)
	}
	return nil
}

func hasRelocations(p *ebpf.ProgramSpec) bool {
	for i := range p.Instructions {
		if corerelo.Of(&p.Instructions[i]) != nil {
			return true
		}
	}
	return false
}

func sortedPrograms(s *ebpf.CollectionSpec) []string {
	names := make([]string, 0, len(s.Programs))
	for n := range s.Programs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
