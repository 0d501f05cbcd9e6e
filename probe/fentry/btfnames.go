package fentry

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// btfMagic opens every BTF blob, in the byte order of its machine.
const btfMagic = 0xeB9F

// kindFunc is BTF_KIND_FUNC.
const kindFunc = 12

// errBadBTF is wrapped by the errors of funcNames.
var errBadBTF = errors.New("malformed BTF")

// funcNames returns the names of the functions (BTF_KIND_FUNC) in a raw,
// self-contained BTF blob such as /sys/kernel/btf/vmlinux, in type order,
// repeats included, and their type IDs. It walks the type records without
// decoding them, which takes milliseconds where decoding every type of
// vmlinux takes a quarter of a second: wildcards and listings need only the
// names, and a probe then decodes its function by ID. (By name, cilium
// reads "___" in a name as a CO-RE flavour suffix and mismatches ____fput.)
func funcNames(raw []byte) ([]string, []btf.TypeID, error) {
	if len(raw) < 24 {
		return nil, nil, fmt.Errorf("%w: %d bytes is too short for a header", errBadBTF, len(raw))
	}
	var order binary.ByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint16(raw) == btfMagic {
		order = binary.BigEndian
	} else if order.Uint16(raw) != btfMagic {
		return nil, nil, fmt.Errorf("%w: bad magic %#x", errBadBTF, order.Uint16(raw))
	}
	hdrLen := uint64(order.Uint32(raw[4:]))
	section := func(offAt int) ([]byte, error) {
		off, size := hdrLen+uint64(order.Uint32(raw[offAt:])), uint64(order.Uint32(raw[offAt+4:]))
		if off+size > uint64(len(raw)) {
			return nil, fmt.Errorf("%w: section at %d+%d runs past the end (%d bytes)", errBadBTF, off, size, len(raw))
		}
		return raw[off : off+size], nil
	}
	typ, err := section(8)
	if err != nil {
		return nil, nil, err
	}
	strs, err := section(16)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var ids []btf.TypeID
	for id := btf.TypeID(1); len(typ) > 0; id++ {
		if len(typ) < 12 {
			return nil, nil, fmt.Errorf("%w: truncated type record", errBadBTF)
		}
		nameOff, info := order.Uint32(typ), order.Uint32(typ[4:])
		kind, vlen := (info>>24)&0x1f, int(info&0xffff)
		extra, ok := recordTail(kind, vlen)
		if !ok {
			return nil, nil, fmt.Errorf("%w: unknown type kind %d", errBadBTF, kind)
		}
		if 12+extra > len(typ) {
			return nil, nil, fmt.Errorf("%w: truncated type record of kind %d", errBadBTF, kind)
		}
		if kind == kindFunc {
			name, err := cString(strs, nameOff)
			if err != nil {
				return nil, nil, err
			}
			names = append(names, name)
			ids = append(ids, id)
		}
		typ = typ[12+extra:]
	}
	return names, ids, nil
}

// recordTail returns the bytes that follow the 12-byte common part of a
// type record of kind with vlen members.
func recordTail(kind uint32, vlen int) (int, bool) {
	switch kind {
	case 2, 7, 8, 9, 10, 11, 12, 16, 18: // ptr fwd typedef volatile const restrict func float type_tag
		return 0, true
	case 1, 14, 17: // int var decl_tag
		return 4, true
	case 3: // array
		return 12, true
	case 4, 5, 15, 19: // struct union datasec enum64
		return 12 * vlen, true
	case 6, 13: // enum func_proto
		return 8 * vlen, true
	}
	return 0, false
}

// cString returns the NUL-terminated string at off.
func cString(strs []byte, off uint32) (string, error) {
	if uint64(off) >= uint64(len(strs)) {
		return "", fmt.Errorf("%w: name offset %d is outside the string section", errBadBTF, off)
	}
	for i, c := range strs[off:] {
		if c == 0 {
			return string(strs[off : int(off)+i]), nil
		}
	}
	return "", fmt.Errorf("%w: unterminated string at %d", errBadBTF, off)
}
