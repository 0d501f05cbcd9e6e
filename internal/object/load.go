package object

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// Object is a loaded object: its maps and programs in the kernel, and
// once attached, its links. Close releases everything; maps pinned with
// Options.PinDir stay pinned.
type Object struct {
	spec    *Spec
	coll    *ebpf.Collection
	links   probe.Links
	printk  *printkReader
	records []*recordReader
}

// Load sets the globals, creates the maps, fills program arrays and loads
// every program, with CO-RE relocations applied against the running
// kernel's BTF. targetPID, when not 0, is the process the object traces:
// the libbpf-tools global targ_tgid gets it when the object declares one;
// it is known only once a command to trace has started, after Open. A
// verifier rejection is an *ebpf.VerifierError naming the program.
func (s *Spec) Load(targetPID int) (*Object, error) {
	if err := s.setGlobals(targetPID); err != nil {
		return nil, err
	}
	if err := s.pin(); err != nil {
		return nil, err
	}
	opts := ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: s.opts.PinDir}, Cache: kernel.BTF}
	coll, err := ebpf.NewCollectionWithOptions(s.spec, opts)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%s: %w", s.Path, err)
		}
		return nil, fmt.Errorf("load %s: %w", s.Path, err)
	}
	o := &Object{spec: s, coll: coll}
	if o.printk, err = newPrintkReader(s.spec); err != nil {
		o.Close()
		return nil, err
	}
	if o.records, err = newRecordReaders(s.spec, coll); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

// Attach attaches every program whose section names an attach point and
// returns how many attach points it attached.
func (o *Object) Attach() (int, error) {
	n := 0
	for _, p := range o.spec.Programs {
		prog := o.coll.Programs[p.Name]
		for _, inst := range p.instances {
			l, err := attach(p, inst, prog)
			if err != nil {
				return n, &SectionError{Section: p.Section, Program: p.Name, Err: err}
			}
			o.links = append(o.links, l)
			n++
		}
	}
	return n, nil
}

// attach links prog to inst, through its provider except for a raw_tp
// program: the provider attaches BTF-typed raw tracepoints (tp_btf)
// where the kernel has BTF, which a BPF_PROG_TYPE_RAW_TRACEPOINT program
// is not.
func attach(p *Program, inst probe.Instance, prog *ebpf.Program) (io.Closer, error) {
	if p.raw != "" {
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: p.raw, Program: prog})
		if err != nil {
			return nil, fmt.Errorf("attach %s: %w", inst.Name(), err)
		}
		return l, nil
	}
	return inst.Attach(prog)
}

// detach closes the links: the programs stop running, the maps keep
// their contents.
func (o *Object) detach() error {
	err := o.links.Close()
	o.links = nil
	return err
}

// Close detaches and releases everything, and removes the printk
// instance. Pinned maps stay pinned.
func (o *Object) Close() error {
	errs := []error{o.detach()}
	for _, r := range o.records {
		errs = append(errs, r.Close())
	}
	if o.printk != nil {
		errs = append(errs, o.printk.Close())
	}
	o.coll.Close()
	return errors.Join(errs...)
}

// Pinned lists the paths where maps are pinned (Options.PinDir), sorted.
func (o *Object) Pinned() []string {
	var out []string
	for name := range o.coll.Maps {
		if p := o.spec.pinPath(name); p != "" && !strings.HasPrefix(name, ".") {
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}
