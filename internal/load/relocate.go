package load

import (
	"fmt"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

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

// relocatedSpec returns r's collection made for the running kernel: CO-RE
// relocations resolved, and the script's hash maps allocating entries as
// keys arrive where every program may use such maps. Preallocating all of
// a map's entries (bpftrace's 4,096, for each CPU in a per-CPU map) takes
// milliseconds at start-up, more with more CPUs. Linux 6.1 made such maps
// safe in any context; before it, perf_event programs (interval, profile)
// were refused them, and other tracing programs warned about in the
// kernel log (refused on PREEMPT_RT). LRU maps are always preallocated.
func relocatedSpec(r *compile.Result) (*ebpf.CollectionSpec, error) {
	s := r.Spec()
	if kernel.ReleaseAtLeast(6, 1) {
		for _, m := range r.Plan.Maps {
			if ms := s.Maps[m.BPFName]; ms.Type == ebpf.Hash || ms.Type == ebpf.PerCPUHash {
				ms.Flags |= unix.BPF_F_NO_PREALLOC
			}
		}
	}
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
