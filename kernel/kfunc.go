package kernel

import (
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// KernelFuncID returns the BTF type ID of the kernel function name in
// vmlinux, which a kfunc call instruction names; it wraps
// btf.ErrNotFound when the kernel has no such function.
func KernelFuncID(name string) (btf.TypeID, error) {
	spec, err := BTF.Kernel()
	if err != nil {
		return 0, fmt.Errorf("kernel BTF: %w", err)
	}
	var fn *btf.Func
	if err := spec.TypeByName(name, &fn); err != nil {
		return 0, fmt.Errorf("kernel function %s: %w", name, err)
	}
	return spec.TypeID(fn)
}
