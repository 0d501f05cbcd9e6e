// Package btfvalue owns decoding the bytes of a BPF object's maps and
// ring buffer records, laid out as a BTF type, into the values package
// output prints: integers, bools, strings, arrays, records and pointers.
// Bytes are read in the host's byte order, since the objects run here.
//
// How C types become values:
//   - integers of 1, 2, 4 and 8 bytes are int64 when signed, uint64
//     otherwise; 16-byte integers (__int128) are a hex string of their
//     128 bits ("0x1ffffffffffffffff"), since no Go integer holds them;
//     _Bool is a bool.
//   - arrays of char, signed char or unsigned char (const or volatile
//     too) are a string up to the first NUL when those bytes are
//     printable text, otherwise an output.Array of integers. Arrays of a
//     typedef such as __u8 hold bytes, not text, and are always an
//     output.Array; so are other arrays.
//   - structs are an output.Record of their named members; the members of
//     an anonymous struct or union member are flattened into it, as C
//     names them, and unnamed bitfields (padding) are left out.
//     Bitfields are decoded as their declared integer or enum type.
//   - unions are an output.Record of all their members, each decoded from
//     the same bytes, since nothing says which one is live.
//   - enums are the name of the matching enumerator, or the number when
//     none matches; pointers are an output.Pointer; floats of 4 and 8
//     bytes a float64.
//   - typedefs, const, volatile, restrict, type tags and variables are
//     seen through; a data section (.data, .bss, .rodata) is a Record of
//     its variables.
//
// Functions, forward declarations and void have no value: decoding them
// is an error wrapping ErrUnsupported, as bytes shorter than their type
// wrap ErrShort. Decoding never panics.
package btfvalue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/output"
)

var (
	// ErrShort is wrapped by errors about bytes that end before their type.
	ErrShort = errors.New("bytes shorter than their type")
	// ErrUnsupported is wrapped by errors about types without a value.
	ErrUnsupported = errors.New("type without a decodable value")
)

// maxDepth bounds how deeply types nest, so a malformed type that
// contains itself is an error instead of endless recursion.
const maxDepth = 64

// Decode returns the value the bytes b hold laid out as t. Bytes past
// t's size are ignored: per-CPU values, for one, are padded to 8 bytes.
func Decode(t btf.Type, b []byte) (any, error) {
	return decoder{binary.NativeEndian}.decode(t, b, 0)
}

// decoder reads in a given byte order, so tests can try the other one.
type decoder struct {
	order binary.ByteOrder
}

func (d decoder) bigEndian() bool { return d.order.Uint16([]byte{0, 1}) == 1 }

func (d decoder) decode(t btf.Type, b []byte, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: types nested deeper than %d", ErrUnsupported, maxDepth)
	}
	depth++
	switch t := strip(t, true).(type) {
	case *btf.Var:
		return d.decode(t.Type, b, depth)
	case *btf.Int:
		if t.Size == 16 {
			return d.int128(b)
		}
		raw, err := d.load(b, t.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cName(t), err)
		}
		return integer(t, raw, int(t.Size)*8), nil
	case *btf.Enum:
		raw, err := d.load(b, t.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cName(t), err)
		}
		return enum(t, raw, int(t.Size)*8), nil
	case *btf.Pointer:
		raw, err := d.load(b, 8)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cName(t), err)
		}
		return output.Pointer(raw), nil
	case *btf.Float:
		return d.float(t, b)
	case *btf.Array:
		return d.array(t, b, depth)
	case *btf.Struct:
		return d.record(t, t.Size, t.Members, b, depth)
	case *btf.Union:
		return d.record(t, t.Size, t.Members, b, depth)
	case *btf.Datasec:
		return d.datasec(t, b, depth)
	}
	return nil, fmt.Errorf("%s: %w", cName(t), ErrUnsupported)
}

// load reads an unsigned integer of size bytes.
func (d decoder) load(b []byte, size uint32) (uint64, error) {
	if uint32(len(b)) < size {
		return 0, fmt.Errorf("%d bytes for %d: %w", len(b), size, ErrShort)
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(d.order.Uint16(b)), nil
	case 4:
		return uint64(d.order.Uint32(b)), nil
	case 8:
		return d.order.Uint64(b), nil
	}
	return 0, fmt.Errorf("%w: %d-byte integer", ErrUnsupported, size)
}

// int128 is a 16-byte integer's bits in hex, without leading zeros.
func (d decoder) int128(b []byte) (string, error) {
	if len(b) < 16 {
		return "", fmt.Errorf("%d bytes for a 16-byte integer: %w", len(b), ErrShort)
	}
	hi, lo := d.order.Uint64(b[8:]), d.order.Uint64(b)
	if d.bigEndian() {
		hi, lo = lo, hi
	}
	if hi == 0 {
		return fmt.Sprintf("0x%x", lo), nil
	}
	return fmt.Sprintf("0x%x%016x", hi, lo), nil
}

// integer is raw, the low bits bits of an integer of type t, as a value.
func integer(t *btf.Int, raw uint64, bits int) any {
	switch {
	case t.Encoding&btf.Bool != 0:
		return raw != 0
	case t.Encoding&btf.Signed != 0:
		return signExtend(raw, bits)
	}
	return raw
}

func signExtend(raw uint64, bits int) int64 {
	shift := 64 - bits
	return int64(raw<<shift) >> shift
}

// enum is raw, the low bits bits of an enum of type t, as the name of
// its enumerator or else as a number.
func enum(t *btf.Enum, raw uint64, bits int) any {
	mask := uint64(math.MaxUint64) >> (64 - bits)
	for _, v := range t.Values {
		if v.Value&mask == raw&mask {
			return v.Name
		}
	}
	if t.Signed {
		return signExtend(raw, bits)
	}
	return raw
}

func (d decoder) float(t *btf.Float, b []byte) (any, error) {
	if t.Size != 4 && t.Size != 8 {
		return nil, fmt.Errorf("%s: %w: %d-byte float", cName(t), ErrUnsupported, t.Size)
	}
	raw, err := d.load(b, t.Size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cName(t), err)
	}
	if t.Size == 4 {
		return float64(math.Float32frombits(uint32(raw))), nil
	}
	return math.Float64frombits(raw), nil
}

func (d decoder) array(t *btf.Array, b []byte, depth int) (any, error) {
	size, err := btf.Sizeof(t.Type)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", cName(t), ErrUnsupported, err)
	}
	if need := uint64(t.Nelems) * uint64(size); uint64(len(b)) < need {
		return nil, fmt.Errorf("%s: %d bytes for %d: %w", cName(t), len(b), need, ErrShort)
	}
	if size == 0 {
		// Elements of no size hold nothing, and their count bounds nothing.
		return output.Array{}, nil
	}
	if isChar(t.Type) {
		if s, ok := text(b[:t.Nelems]); ok {
			return s, nil
		}
	}
	out := make(output.Array, t.Nelems)
	for i := range out {
		if out[i], err = d.decode(t.Type, b[i*size:], depth); err != nil {
			return nil, fmt.Errorf("%s: element %d: %w", cName(t), i, err)
		}
	}
	return out, nil
}

// isChar reports whether t is spelled as C's one-byte character type,
// qualifiers aside: a typedef of it (__u8) names bytes, not text.
func isChar(t btf.Type) bool {
	i, ok := strip(t, false).(*btf.Int)
	return ok && i.Size == 1 && i.Encoding&btf.Bool == 0 && (i.Encoding&btf.Char != 0 || strings.HasSuffix(i.Name, "char"))
}

// strip returns t without its qualifiers, and without its typedefs when
// typedefs is set.
func strip(t btf.Type, typedefs bool) btf.Type {
	for range maxDepth {
		switch q := t.(type) {
		case *btf.Const:
			t = q.Type
		case *btf.Volatile:
			t = q.Type
		case *btf.Restrict:
			t = q.Type
		case *btf.TypeTag:
			t = q.Type
		case *btf.Typedef:
			if !typedefs {
				return t
			}
			t = q.Type
		default:
			return t
		}
	}
	return t
}

// text returns b up to its first NUL if that is printable UTF-8.
func text(b []byte) (string, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	s := string(b)
	return s, utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// record decodes a struct's or union's members into a Record.
func (d decoder) record(t btf.Type, size uint32, members []btf.Member, b []byte, depth int) (any, error) {
	if uint32(len(b)) < size {
		return nil, fmt.Errorf("%s: %d bytes for %d: %w", cName(t), len(b), size, ErrShort)
	}
	b = b[:size]
	var r output.Record
	for _, m := range members {
		v, err := d.member(m, b, depth)
		if err != nil {
			label := m.Name
			if label == "" {
				label = "(anonymous)"
			}
			return nil, fmt.Errorf("%s: member %s: %w", cName(t), label, err)
		}
		if m.Name != "" {
			r.Names = append(r.Names, m.Name)
			r.Values = append(r.Values, v)
		} else if inner, ok := v.(output.Record); ok && m.BitfieldSize == 0 {
			r.Names = append(r.Names, inner.Names...)
			r.Values = append(r.Values, inner.Values...)
		}
	}
	return r, nil
}

func (d decoder) member(m btf.Member, b []byte, depth int) (any, error) {
	if m.BitfieldSize > 0 {
		return d.bitfield(m, b)
	}
	if m.Offset%8 != 0 {
		return nil, fmt.Errorf("%w: offset of %d bits", ErrUnsupported, m.Offset)
	}
	off := uint64(m.Offset / 8)
	if off > uint64(len(b)) {
		return nil, fmt.Errorf("offset %d past %d bytes: %w", off, len(b), ErrShort)
	}
	return d.decode(m.Type, b[off:], depth)
}

// bitfield reads member m's bits, which a little-endian layout numbers
// from the least significant bit of the first byte and a big-endian one
// from the most significant.
func (d decoder) bitfield(m btf.Member, b []byte) (any, error) {
	if m.BitfieldSize > 64 {
		return nil, fmt.Errorf("%w: %d-bit bitfield", ErrUnsupported, m.BitfieldSize)
	}
	first, n := uint64(m.Offset), uint64(m.BitfieldSize)
	if (first+n+7)/8 > uint64(len(b)) {
		return nil, fmt.Errorf("bits %d to %d past %d bytes: %w", first, first+n, len(b), ErrShort)
	}
	var raw uint64
	for i := range n {
		p := first + i
		if d.bigEndian() {
			raw = raw<<1 | uint64(b[p/8]>>(7-p%8)&1)
		} else {
			raw |= uint64(b[p/8]>>(p%8)&1) << i
		}
	}
	switch t := strip(m.Type, true).(type) {
	case *btf.Int:
		return integer(t, raw, int(n)), nil
	case *btf.Enum:
		return enum(t, raw, int(n)), nil
	}
	return nil, fmt.Errorf("%w: bitfield of %s", ErrUnsupported, cName(m.Type))
}

// datasec decodes each variable of a data section.
func (d decoder) datasec(t *btf.Datasec, b []byte, depth int) (any, error) {
	if uint32(len(b)) < t.Size {
		return nil, fmt.Errorf("%s: %d bytes for %d: %w", cName(t), len(b), t.Size, ErrShort)
	}
	var r output.Record
	for _, v := range t.Vars {
		if uint64(v.Offset)+uint64(v.Size) > uint64(t.Size) {
			return nil, fmt.Errorf("%s: variable at %d past its %d bytes: %w", cName(t), v.Offset, t.Size, ErrShort)
		}
		val, err := d.decode(v.Type, b[v.Offset:v.Offset+v.Size], depth)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", cName(t), v.Type.TypeName(), err)
		}
		r.Names = append(r.Names, v.Type.TypeName())
		r.Values = append(r.Values, val)
	}
	return r, nil
}

// Elem is one element of a BPF map as read from the kernel: its key's
// bytes and its value's, one slice per CPU for a per-CPU map.
type Elem struct {
	Key    []byte
	Values [][]byte
}

// Map decodes the elements of the BPF map name, whose keys and values
// are laid out as key and value, into a keyed Scalar map "@name" whose
// entries have the decoded key as their one key part. Per-CPU values are summed when they are integers;
// other per-CPU values are an output.Array with one value per CPU.
func Map(name string, key, value btf.Type, elems []Elem) (*output.Map, error) {
	m := &output.Map{Name: "@" + name, Kind: output.Scalar, Keyed: true, CTypes: true}
	for i, e := range elems {
		k, err := Decode(key, e.Key)
		if err != nil {
			return nil, fmt.Errorf("map %s: element %d: key: %w", name, i, err)
		}
		if len(e.Values) == 0 {
			return nil, fmt.Errorf("map %s: element %d: no value", name, i)
		}
		vals := make(output.Array, len(e.Values))
		for cpu, b := range e.Values {
			if vals[cpu], err = Decode(value, b); err != nil {
				return nil, fmt.Errorf("map %s: element %d: value of CPU %d: %w", name, i, cpu, err)
			}
		}
		m.Entries = append(m.Entries, output.Entry{Key: []any{k}, Value: combine(vals)})
	}
	return m, nil
}

// combine is one element's value from its per-CPU values: their sum when
// they are integers.
func combine(vals output.Array) any {
	if len(vals) == 1 {
		return vals[0]
	}
	var sum uint64
	for _, v := range vals {
		switch v := v.(type) {
		case int64:
			sum += uint64(v)
		case uint64:
			sum += v
		default:
			return vals
		}
	}
	if _, signed := vals[0].(int64); signed {
		return int64(sum)
	}
	return sum
}

// Slots turns a map of log2 slots into a log2 histogram (output.Map's
// Bits 0): the key, an integer k of any width, counts the values in
// [2^k, 2^(k+1)); the values are integer counts, summed over CPUs for a
// per-CPU map. Slot k is the histogram's bucket k+2.
func Slots(key, value btf.Type, elems []Elem) (output.HistValue, error) {
	if err := SlotTypes(key, value); err != nil {
		return nil, err
	}
	h := output.HistValue{}
	for _, e := range elems {
		k, err := Decode(key, e.Key)
		if err != nil {
			return nil, fmt.Errorf("slot key: %w", err)
		}
		slot, err := count(k, key)
		if err != nil {
			return nil, fmt.Errorf("slot key: %w", err)
		}
		if slot > 63 {
			return nil, fmt.Errorf("slot %d is past 63", slot)
		}
		for _, b := range e.Values {
			v, err := Decode(value, b)
			if err != nil {
				return nil, fmt.Errorf("slot %d: %w", slot, err)
			}
			n, err := count(v, value)
			if err != nil {
				return nil, fmt.Errorf("slot %d: count: %w", slot, err)
			}
			h[int(slot)+2] += n
		}
	}
	return h, nil
}

// count is v, decoded as t, as a non-negative integer.
// SlotTypes reports whether a map whose keys and values are laid out as
// key and value can be read by Slots: both must be integers.
func SlotTypes(key, value btf.Type) error {
	if _, ok := btf.UnderlyingType(key).(*btf.Int); !ok {
		return fmt.Errorf("its keys are %s, not log2 slots (integers)", cName(key))
	}
	if _, ok := btf.UnderlyingType(value).(*btf.Int); !ok {
		return fmt.Errorf("its values are %s, not counts (integers)", cName(value))
	}
	return nil
}

func count(v any, t btf.Type) (uint64, error) {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return 0, fmt.Errorf("%d is negative", v)
		}
		return uint64(v), nil
	case uint64:
		return v, nil
	}
	return 0, fmt.Errorf("%s is not an integer", cName(t))
}

// cName is t as C spells it, for error messages; an array of arrays
// reads inside out (int[3][2] holds two int[3]).
func cName(t btf.Type) string {
	return spell(t, maxDepth)
}

func spell(t btf.Type, depth int) string {
	switch t := t.(type) {
	case nil:
		return "no type"
	case *btf.Struct:
		return strings.TrimSpace("struct " + t.Name)
	case *btf.Union:
		return strings.TrimSpace("union " + t.Name)
	case *btf.Enum:
		return strings.TrimSpace("enum " + t.Name)
	case *btf.Fwd:
		return t.Kind.String() + " " + t.Name + " (declared only)"
	case *btf.Array:
		if depth == 0 {
			return "array"
		}
		return fmt.Sprintf("%s[%d]", spell(t.Type, depth-1), t.Nelems)
	case *btf.Pointer:
		return "pointer"
	case *btf.Void:
		return "void"
	case *btf.Func:
		return "function " + t.Name
	case *btf.FuncProto:
		return "function type"
	}
	if n := t.TypeName(); n != "" {
		return n
	}
	return fmt.Sprint(t)
}
