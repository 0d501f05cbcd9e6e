package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cilium/ebpf"
)

// EnumValue looks name up among the values of the running kernel's enums
// (TCP_ESTABLISHED, SKB_DROP_REASON_NOT_SPECIFIED), which C code uses as
// constants and so may a script. ok is false when the kernel has no BTF or
// no enum has such a value.
func EnumValue(name string) (int64, bool) {
	values, err := enumValues()
	if err != nil {
		return 0, false
	}
	v, ok := values[name]
	return v, ok
}

// enumValues reads the enums of /sys/kernel/btf/vmlinux once per process.
// It scans the raw BTF itself: cilium/ebpf decodes types lazily by name,
// but finding a value by name means decoding every type, about 400 ms on
// a 6.18 kernel against a few for this scan.
var enumValues = sync.OnceValues(func() (map[string]int64, error) {
	raw, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kernel BTF: %w", ebpf.ErrNotSupported)
	}
	if err != nil {
		return nil, err
	}
	return ScanEnums(raw)
})

// BTF kinds whose records ScanEnums reads or steps over (linux/btf.h).
const (
	btfKindInt       = 1
	btfKindArray     = 3
	btfKindStruct    = 4
	btfKindUnion     = 5
	btfKindEnum      = 6
	btfKindFuncProto = 13
	btfKindVar       = 14
	btfKindDatasec   = 15
	btfKindDeclTag   = 17
	btfKindEnum64    = 19
	btfKindMax       = 19
)

// ScanEnums returns every enum value named in raw BTF (in the byte order
// of this machine, as the kernel gives it), by name: where two enums share
// a value name, the first wins. It reads each type record's header and
// steps over its trailing data without decoding the type.
func ScanEnums(raw []byte) (map[string]int64, error) {
	le := binary.NativeEndian
	if len(raw) < 24 || le.Uint16(raw) != 0xeb9f {
		return nil, errors.New("not BTF in this machine's byte order")
	}
	hdrLen := uint64(le.Uint32(raw[4:]))
	typeOff, typeLen := hdrLen+uint64(le.Uint32(raw[8:])), uint64(le.Uint32(raw[12:]))
	strOff, strLen := hdrLen+uint64(le.Uint32(raw[16:])), uint64(le.Uint32(raw[20:]))
	if typeOff+typeLen > uint64(len(raw)) || strOff+strLen > uint64(len(raw)) {
		return nil, errors.New("BTF sections run past its end")
	}
	types, strs := raw[typeOff:typeOff+typeLen], raw[strOff:strOff+strLen]
	name := func(off uint32) string {
		if uint64(off) >= uint64(len(strs)) {
			return ""
		}
		s := strs[off:]
		for i, c := range s {
			if c == 0 {
				return string(s[:i])
			}
		}
		return string(s)
	}
	values := map[string]int64{}
	add := func(n string, v int64) {
		if _, dup := values[n]; !dup && n != "" {
			values[n] = v
		}
	}
	for pos := uint64(0); pos < uint64(len(types)); {
		if pos+12 > uint64(len(types)) {
			return nil, errors.New("truncated BTF type record")
		}
		info := le.Uint32(types[pos+4:])
		vlen, kind, signed := uint64(info&0xffff), (info>>24)&0x1f, info>>31 == 1
		pos += 12
		var each, fixed uint64
		switch kind {
		case btfKindInt, btfKindVar, btfKindDeclTag:
			fixed = 4
		case btfKindArray:
			fixed = 12
		case btfKindStruct, btfKindUnion, btfKindDatasec, btfKindEnum64:
			each = 12
		case btfKindEnum, btfKindFuncProto:
			each = 8
		}
		if kind == 0 || kind > btfKindMax {
			return nil, fmt.Errorf("unknown BTF kind %d", kind)
		}
		end := pos + fixed + each*vlen
		if end > uint64(len(types)) {
			return nil, errors.New("truncated BTF type record")
		}
		for i := uint64(0); i < vlen && (kind == btfKindEnum || kind == btfKindEnum64); i++ {
			rec := types[pos+i*each:]
			switch {
			case kind == btfKindEnum && signed:
				add(name(le.Uint32(rec)), int64(int32(le.Uint32(rec[4:]))))
			case kind == btfKindEnum:
				add(name(le.Uint32(rec)), int64(le.Uint32(rec[4:])))
			default:
				add(name(le.Uint32(rec)), int64(uint64(le.Uint32(rec[8:]))<<32|uint64(le.Uint32(rec[4:]))))
			}
		}
		pos = end
	}
	return values, nil
}
