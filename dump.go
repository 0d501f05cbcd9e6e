package ebtrace

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/corerelo"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// DumpStages are the compiler stages Script.Dump writes, in pipeline
// order.
var DumpStages = []string{"ast", "check", "plan", "asm", "core"}

// Dump writes what one stage of the compiler made of the script, for
// people debugging a script or ebtrace itself; the layouts are not a
// stable format. The stages are DumpStages: "ast" the syntax tree, "check"
// the types of variables and maps, "plan" the maps' layouts (JSON), "asm"
// the eBPF programs, CO-RE relocations marked, and "core" the relocations
// resolved against the running kernel's BTF, or with btfPath set against
// the BTF in that file (an ELF vmlinux or raw BTF).
func (s *Script) Dump(w io.Writer, stage, btfPath string) error {
	res := s.res
	switch stage {
	case "ast":
		fmt.Fprint(w, syntax.Dump(res.AST))
	case "check":
		for _, in := range res.Info.Instances {
			fmt.Fprintf(w, "%s\n", in.Instance.Name())
			for _, name := range slices.Sorted(maps.Keys(in.Vars)) {
				fmt.Fprintf(w, "    $%s: %s\n", name, in.Vars[name])
			}
		}
		for _, name := range res.Info.MapNames() {
			m := res.Info.Maps[name]
			fmt.Fprintf(w, "@%s: %s keys %v value %s\n", name, m.Kind, m.Keys, m.Value)
		}
	case "plan":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res.Plan)
	case "asm":
		for _, p := range res.Programs {
			fmt.Fprintf(w, "%s: %s (%s)\n%v\n", p.Name, p.Instance.Instance.Name(), p.Instance.Instance.Program().Type, annotate(p.Insns))
		}
	case "core":
		var target *btf.Spec
		if btfPath != "" {
			spec, err := kernel.LoadBTF(btfPath)
			if err != nil {
				return fmt.Errorf("btf: %w", err)
			}
			target = spec
		}
		relocated, err := load.Relocations(res, target)
		if err != nil {
			return publicError(err)
		}
		names := map[string]string{}
		for _, p := range res.Programs {
			names[p.Name] = p.Instance.Instance.Name()
		}
		for _, r := range relocated {
			fmt.Fprintf(w, "%s: %s\n", r.Program, names[r.Program])
			for _, a := range r.Applied {
				fmt.Fprintf(w, "    insn %d: %v = %d (compiled %d)\n", a.Offset, a.Reloc, a.Value, a.Compiled)
			}
		}
	default:
		return fmt.Errorf("dump stage %q: the stages are %v", stage, DumpStages)
	}
	return nil
}

// relocatedSource shows an instruction's CO-RE relocation in the asm dump.
type relocatedSource struct {
	src   fmt.Stringer
	reloc *corerelo.Relocation
}

func (s relocatedSource) String() string { return fmt.Sprintf("%v  [CO-RE: %v]", s.src, s.reloc) }

// annotate marks the instructions that load relocates.
func annotate(insns asm.Instructions) asm.Instructions {
	out := make(asm.Instructions, len(insns))
	for i, ins := range insns {
		if r := corerelo.Of(&ins); r != nil {
			ins = ins.WithSource(relocatedSource{ins.Source(), r})
		}
		out[i] = ins
	}
	return out
}

// Verification is what Script.Verify found.
type Verification struct {
	Verified int // programs the verifier accepted
	// Unattachable are why probes whose programs the verifier accepted
	// cannot attach here (kprobes on a kernel without them).
	Unattachable []error
	// Unloadable are why probes whose programs this kernel refuses to
	// load at all were only compiled (fentry under lockdown).
	Unloadable []error
}

// Verify passes the script's programs through the kernel's verifier and
// unloads them again, attaching nothing: a dry run. A program the
// verifier refuses is a *CompileError.
func (s *Script) Verify() (*Verification, error) {
	dry, err := load.Verify(s.res)
	if err != nil {
		return nil, publicError(err)
	}
	return &Verification{Verified: dry.Verified, Unattachable: dry.Unattachable, Unloadable: dry.Unloadable}, nil
}
