package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// Event is one recorded trace event: where and when it happened, and its
// raw record, laid out as its format file says.
type Event struct {
	Format *kernel.Format
	Time   uint64 // CLOCK_MONOTONIC nanoseconds
	CPU    int
	PID    int // thread group id
	TID    int
	Comm   string
	Raw    []byte
}

// Value is one decoded field. Exactly one of its kinds applies, chosen by
// the field: Str for strings, Ints or Uints for arrays, Pointer for
// pointers, else Int or Uint by signedness.
type Value struct {
	Field   kernel.Field
	Signed  bool
	Int     int64
	Uint    uint64
	Str     string
	IsStr   bool
	Ints    []int64
	Uints   []uint64
	IsArray bool
	Pointer bool
	Missing bool // the record is too short to hold the field
}

// Fields decodes every field of the event's format, common ones first.
func (e *Event) Fields() []Value {
	out := make([]Value, len(e.Format.Fields))
	for i, f := range e.Format.Fields {
		out[i] = decodeField(f, e.Raw)
	}
	return out
}

func decodeField(f kernel.Field, raw []byte) Value {
	v := Value{Field: f, Signed: signedForDisplay(f)}
	if f.Offset+f.Size > len(raw) {
		v.Missing = true
		return v
	}
	b := raw[f.Offset : f.Offset+f.Size]
	switch {
	case f.DataLoc:
		loc := binary.NativeEndian.Uint32(b)
		start, n := int(loc&0xffff), int(loc>>16)
		if f.RelLoc {
			start += f.Offset + f.Size
		}
		if start+n > len(raw) {
			v.Missing = true
			return v
		}
		data := raw[start : start+n]
		if f.IsString {
			v.Str, v.IsStr = cString(data), true
			return v
		}
		decodeArray(&v, data, elemSize(f.Type))
	case f.ArrayLen > 0 && f.IsString:
		v.Str, v.IsStr = cString(b), true
	case f.ArrayLen > 0:
		decodeArray(&v, b, f.Size/f.ArrayLen)
	case f.Pointer:
		v.Pointer = true
		v.Uint = readUint(b)
	case v.Signed:
		// A widened syscall argument holds the C type's bits, the upper
		// ones not necessarily sign-extended.
		if n := cIntSize(f.Type); n > 0 && n < len(b) {
			b = b[:n]
		}
		v.Int = readInt(b)
	default:
		v.Uint = readUint(b)
	}
	return v
}

func decodeArray(v *Value, b []byte, size int) {
	v.IsArray = true
	if size <= 0 || size > 8 || size&(size-1) != 0 {
		size = 1
	}
	for i := 0; i+size <= len(b); i += size {
		if v.Signed {
			v.Ints = append(v.Ints, readInt(b[i:i+size]))
		} else {
			v.Uints = append(v.Uints, readUint(b[i:i+size]))
		}
	}
}

// signedForDisplay reports whether a field prints as signed. Syscall
// events widen every argument to 8 bytes marked unsigned; an int or long
// argument such as openat's dfd reads as the signed value the caller
// passed, as trace output prints it.
func signedForDisplay(f kernel.Field) bool {
	return f.Signed || cIntSize(f.Type) > 0
}

// cIntSize is the size of a signed C integer type, 0 for other types.
func cIntSize(t string) int {
	switch elemType(t) {
	case "short":
		return 2
	case "int":
		return 4
	case "long", "long long":
		return 8
	}
	return 0
}

// elemType strips __data_loc, qualifiers and array dimensions from a type.
func elemType(t string) string {
	t = strings.TrimPrefix(t, "__data_loc ")
	t = strings.TrimPrefix(t, "__rel_loc ")
	if i := strings.IndexByte(t, '['); i >= 0 {
		t = t[:i]
	}
	t = strings.TrimPrefix(strings.TrimSpace(t), "const ")
	return strings.TrimSpace(t)
}

// elemSize is the size of a dynamic array's element type.
func elemSize(t string) int {
	switch elemType(t) {
	case "u16", "__u16", "s16", "__s16", "short", "unsigned short", "__be16", "__le16":
		return 2
	case "u32", "__u32", "s32", "__s32", "int", "unsigned int", "unsigned", "pid_t", "__be32", "__le32":
		return 4
	case "u64", "__u64", "s64", "__s64", "long", "unsigned long", "long long", "unsigned long long", "size_t", "void *":
		return 8
	}
	return 1
}

func readUint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.NativeEndian.Uint16(b))
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	case 8:
		return binary.NativeEndian.Uint64(b)
	}
	var wide [8]byte
	copy(wide[:], b)
	return binary.NativeEndian.Uint64(wide[:])
}

func readInt(b []byte) int64 {
	switch len(b) {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(binary.NativeEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.NativeEndian.Uint32(b)))
	}
	return int64(readUint(b))
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Text renders the value as the field=value part of a text line: strings
// quoted, pointers in hex, arrays in braces.
func (v Value) Text() string {
	switch {
	case v.Missing:
		return "<missing>"
	case v.IsStr:
		return fmt.Sprintf("%q", v.Str)
	case v.Pointer:
		return fmt.Sprintf("0x%x", v.Uint)
	case v.IsArray && v.Signed:
		return joinNumbers(v.Ints)
	case v.IsArray:
		return joinNumbers(v.Uints)
	case v.Signed:
		return fmt.Sprint(v.Int)
	}
	return fmt.Sprint(v.Uint)
}

func joinNumbers[T int64 | uint64](ns []T) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// JSON is the value as encoding/json should write it: numbers, strings,
// arrays of numbers; pointers as hex strings, which JSON numbers would
// round.
func (v Value) JSON() any {
	switch {
	case v.Missing:
		return nil
	case v.IsStr:
		return v.Str
	case v.Pointer:
		return fmt.Sprintf("0x%x", v.Uint)
	case v.IsArray && v.Signed:
		return nonNil(v.Ints)
	case v.IsArray:
		return nonNil(v.Uints)
	case v.Signed:
		return v.Int
	}
	return v.Uint
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
