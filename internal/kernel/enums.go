package kernel

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// EnumValue looks name up among the values of the running kernel's enums
// (TCP_ESTABLISHED, SKB_DROP_REASON_NOT_SPECIFIED), which C code uses as
// constants and so may a script: its value and the enum that names it. ok
// is false when the kernel has no BTF or no enum has such a value.
func EnumValue(name string) (EnumConst, bool) {
	values, err := enumValues()
	if err != nil {
		return EnumConst{}, false
	}
	v, ok := values[name]
	return v, ok
}

// EnumConst is a value an enum of raw BTF names: the value and the enum's
// type ID.
type EnumConst struct {
	Value int64
	Enum  btf.TypeID
}

// enumValues reads the enums of VmlinuxBTF once per process. It scans the
// raw BTF itself: cilium/ebpf decodes types lazily by name, but finding a
// value by name means decoding every type, about 400 ms on a 6.18 kernel
// against a few for this scan.
var enumValues = sync.OnceValues(func() (map[string]EnumConst, error) {
	raw, err := VmlinuxRaw()
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kernel BTF: %w", ebpf.ErrNotSupported)
	}
	if err != nil {
		return nil, err
	}
	return ScanEnums(raw)
})

// ScanEnums returns every enum value named in raw BTF, by name: where two
// enums share a value name, the first wins.
func ScanEnums(raw []byte) (map[string]EnumConst, error) {
	values := map[string]EnumConst{}
	err := WalkBTF(raw, func(r BTFRecord, name func(uint32) (string, error)) error {
		if r.Kind != BTFKindEnum && r.Kind != BTFKindEnum64 {
			return nil
		}
		each := 8
		if r.Kind == BTFKindEnum64 {
			each = 12
		}
		for i := range r.Vlen {
			rec := r.Tail[i*each:]
			n, err := name(r.Order.Uint32(rec))
			if err != nil {
				return err
			}
			if _, dup := values[n]; dup || n == "" {
				continue
			}
			c := EnumConst{Enum: r.ID}
			switch {
			case r.Kind == BTFKindEnum64:
				c.Value = int64(uint64(r.Order.Uint32(rec[8:]))<<32 | uint64(r.Order.Uint32(rec[4:])))
			case r.KindFlag: // signed
				c.Value = int64(int32(r.Order.Uint32(rec[4:])))
			default:
				c.Value = int64(r.Order.Uint32(rec[4:]))
			}
			values[n] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return values, nil
}
