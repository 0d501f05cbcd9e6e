package fentry

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// funcs are the BTF functions of vmlinux or of one module.
type funcs struct {
	module string   // "" for vmlinux
	names  []string // sorted, each once
	count  map[string]int
	// byName holds a module's functions, decoded as its names were read;
	// vmlinux's are decoded on demand instead, by the type ID in ids.
	byName map[string]*btf.Func
	ids    map[string]btf.TypeID
}

func newFuncs(module string, names []string) *funcs {
	f := &funcs{module: module, count: map[string]int{}}
	for _, n := range names {
		f.count[n]++
	}
	for n := range f.count {
		f.names = append(f.names, n)
	}
	slices.Sort(f.names)
	return f
}

// errNoBTF is returned, wrapped, when the kernel publishes no BTF.
var errNoBTF = fmt.Errorf("this kernel has no BTF (%s is missing: CONFIG_DEBUG_INFO_BTF is off), which fentry and fexit need: %w", kernel.VmlinuxBTF, ebpf.ErrNotSupported)

// vmlinuxFuncs reads the names of the kernel's BTF functions once per
// process.
var vmlinuxFuncs = sync.OnceValues(func() (*funcs, error) {
	raw, err := kernel.VmlinuxRaw()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoBTF
	}
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	names, ids, err := funcNames(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kernel.VmlinuxBTF, err)
	}
	f := newFuncs("", names)
	f.ids = make(map[string]btf.TypeID, len(names))
	for i, name := range names {
		if _, ok := f.ids[name]; !ok {
			f.ids[name] = ids[i]
		}
	}
	return f, nil
})

var (
	modulesMu sync.Mutex
	modules   = map[string]*funcs{}
)

// moduleFuncs returns the BTF functions of a loaded module, or an error
// wrapping fs.ErrNotExist when it has no BTF.
func moduleFuncs(module string) (*funcs, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if f := modules[module]; f != nil {
		return f, nil
	}
	spec, err := kernel.BTF.Module(module)
	if err != nil {
		return nil, fmt.Errorf("BTF of module %s: %w", module, err)
	}
	var names []string
	byName := map[string]*btf.Func{}
	for typ, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("BTF of module %s: %w", module, err)
		}
		if fn, ok := typ.(*btf.Func); ok {
			names = append(names, fn.Name)
			byName[fn.Name] = fn
		}
	}
	f := newFuncs(module, names)
	f.byName = byName
	modules[module] = f
	return f, nil
}

// moduleNames lists the loaded modules that have BTF.
func moduleNames() ([]string, error) {
	names, err := kernel.BTF.Modules()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return names, err
}

// lookup decodes the function name, which the caller knows is unique in f.
func (f *funcs) lookup(name string) (*btf.Func, error) {
	if f.byName != nil {
		if fn := f.byName[name]; fn != nil {
			return fn, nil
		}
		return nil, fmt.Errorf("BTF of module %s has no function %s: %w", f.module, name, btf.ErrNotFound)
	}
	spec, err := kernel.BTF.Kernel()
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	typ, err := spec.TypeByID(f.ids[name])
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %s: %w", name, err)
	}
	fn, ok := typ.(*btf.Func)
	if !ok || fn.Name != name {
		return nil, fmt.Errorf("kernel BTF: type %d is %v, not function %s", f.ids[name], typ, name)
	}
	return fn, nil
}
