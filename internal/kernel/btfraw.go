package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cilium/ebpf/btf"
)

// VmlinuxBTF is where the kernel publishes its own BTF; modules' BTF sits
// beside it under their names.
const VmlinuxBTF = "/sys/kernel/btf/vmlinux"

// VmlinuxRaw reads VmlinuxBTF (some megabytes) once per process, for
// the scans that walk it raw.
var VmlinuxRaw = sync.OnceValues(func() ([]byte, error) { return os.ReadFile(VmlinuxBTF) })

// ErrBadBTF is wrapped by WalkBTF's errors.
var ErrBadBTF = errors.New("malformed BTF")

// btfMagic opens every BTF blob, in the byte order of its machine.
const btfMagic = 0xeB9F

// BTF kinds the walkers read (linux/btf.h).
const (
	BTFKindEnum   = 6
	BTFKindFunc   = 12
	BTFKindEnum64 = 19
)

// BTFRecord is one type record of raw BTF as WalkBTF hands it over: its
// common part decoded, the bytes after it (members, values, ...) raw.
type BTFRecord struct {
	ID       btf.TypeID
	Kind     uint32
	Vlen     int
	KindFlag bool
	NameOff  uint32
	Tail     []byte
	Order    binary.ByteOrder
}

// WalkBTF calls each for every type record of a raw, self-contained BTF
// blob such as VmlinuxBTF, in type order, without decoding the types:
// milliseconds where cilium/ebpf's decoding of every type of vmlinux takes
// hundreds. name reads a string of the blob's string section. It stops at
// each's first error.
func WalkBTF(raw []byte, each func(r BTFRecord, name func(off uint32) (string, error)) error) error {
	if len(raw) < 24 {
		return fmt.Errorf("%w: %d bytes is too short for a header", ErrBadBTF, len(raw))
	}
	var order binary.ByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint16(raw) == btfMagic {
		order = binary.BigEndian
	} else if order.Uint16(raw) != btfMagic {
		return fmt.Errorf("%w: bad magic %#x", ErrBadBTF, order.Uint16(raw))
	}
	hdrLen := uint64(order.Uint32(raw[4:]))
	section := func(offAt int) ([]byte, error) {
		off, size := hdrLen+uint64(order.Uint32(raw[offAt:])), uint64(order.Uint32(raw[offAt+4:]))
		if off+size > uint64(len(raw)) {
			return nil, fmt.Errorf("%w: section at %d+%d runs past the end (%d bytes)", ErrBadBTF, off, size, len(raw))
		}
		return raw[off : off+size], nil
	}
	typ, err := section(8)
	if err != nil {
		return err
	}
	strs, err := section(16)
	if err != nil {
		return err
	}
	name := func(off uint32) (string, error) { return cString(strs, off) }
	for id := btf.TypeID(1); len(typ) > 0; id++ {
		if len(typ) < 12 {
			return fmt.Errorf("%w: truncated type record", ErrBadBTF)
		}
		info := order.Uint32(typ[4:])
		r := BTFRecord{ID: id, Kind: (info >> 24) & 0x1f, Vlen: int(info & 0xffff), KindFlag: info>>31 == 1, NameOff: order.Uint32(typ), Order: order}
		extra, ok := recordTail(r.Kind, r.Vlen)
		if !ok {
			return fmt.Errorf("%w: unknown type kind %d", ErrBadBTF, r.Kind)
		}
		if 12+extra > len(typ) {
			return fmt.Errorf("%w: truncated type record of kind %d", ErrBadBTF, r.Kind)
		}
		r.Tail = typ[12 : 12+extra]
		if err := each(r, name); err != nil {
			return err
		}
		typ = typ[12+extra:]
	}
	return nil
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
		return "", fmt.Errorf("%w: name offset %d is outside the string section", ErrBadBTF, off)
	}
	for i, c := range strs[off:] {
		if c == 0 {
			return string(strs[off : int(off)+i]), nil
		}
	}
	return "", fmt.Errorf("%w: unterminated string at %d", ErrBadBTF, off)
}
