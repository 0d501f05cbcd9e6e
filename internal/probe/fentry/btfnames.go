package fentry

import (
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// funcNames returns the names of the functions (BTF_KIND_FUNC) in a raw,
// self-contained BTF blob such as /sys/kernel/btf/vmlinux, in type order,
// repeats included, and their type IDs. It walks the type records without
// decoding them (kernel.WalkBTF): wildcards and listings need only the
// names, and a probe then decodes its function by ID. (By name, cilium
// reads "___" in a name as a CO-RE flavour suffix and mismatches ____fput.)
func funcNames(raw []byte) ([]string, []btf.TypeID, error) {
	var names []string
	var ids []btf.TypeID
	err := kernel.WalkBTF(raw, func(r kernel.BTFRecord, name func(uint32) (string, error)) error {
		if r.Kind != kernel.BTFKindFunc {
			return nil
		}
		n, err := name(r.NameOff)
		if err != nil {
			return err
		}
		names = append(names, n)
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return names, ids, nil
}
