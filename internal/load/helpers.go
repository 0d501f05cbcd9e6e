package load

import (
	"errors"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/source"
)

// newerHelper is a BPF helper some of the language needs that older
// kernels lack: their verifier refuses the call by the helper's number
// only, so ebtrace asks the kernel first and names what needs it.
type newerHelper struct {
	name, since string
	hint        string
}

var newerHelpers = map[asm.BuiltinFunc]newerHelper{
	asm.FnMapLookupPercpuElem: {"bpf_map_lookup_percpu_elem", "5.19",
		"reading a count(), sum(), min(), max() or avg() map in a probe combines every CPU's value with it; a plain counter (@n++) is readable on any kernel"},
	asm.FnKtimeGetTaiNs: {"bpf_ktime_get_tai_ns", "6.1", ""},
}

// haveHelper asks the running kernel whether programs of a type can call
// a helper; tests give their own.
var haveHelper = features.HaveProgramHelper

// missingHelpers reports each call of a newer helper that this kernel
// lacks, at the script position that needs it.
func missingHelpers(r *compile.Result, spec *ebpf.CollectionSpec) error {
	d := &source.Diagnostics{File: r.File}
	seen := map[source.Span]bool{}
	for _, p := range r.Programs {
		ps, ok := spec.Programs[p.Name]
		if !ok {
			continue
		}
		for _, ins := range p.Insns {
			h, newer := newerHelpers[asm.BuiltinFunc(ins.Constant)]
			pos, placed := ins.Source().(emit.Position)
			if !ins.IsBuiltinCall() || !newer || !placed || seen[pos.Span] {
				continue
			}
			if err := haveHelper(ps.Type, asm.BuiltinFunc(ins.Constant)); !errors.Is(err, ebpf.ErrNotSupported) {
				continue // there, or the question failed: the verifier will tell
			}
			seen[pos.Span] = true
			diag := d.Add(pos.Span, "kernel", "this needs the BPF helper %s, which this kernel lacks (Linux %s added it)", h.name, h.since)
			if h.hint != "" {
				diag.Hint("%s", h.hint)
			}
		}
	}
	return d.Err()
}
