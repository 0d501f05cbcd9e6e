// Package kernel owns what the running kernel offers: tracefs event formats
// and tracepoint discovery, finding (and if needed mounting) tracefs, a
// fake tracefs tree for tests, its symbols (/proc/kallsyms), facts read
// from its BTF, and the feature probes --info prints.
package kernel

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Tracepoint names one trace event.
type Tracepoint struct{ Category, Name string }

// String returns the tracepoint as "category:name".
func (t Tracepoint) String() string { return t.Category + ":" + t.Name }

// Field is one field of an event's format file.
type Field struct {
	Name     string // "filename", "comm"
	Type     string // C type as the user should see it: "const char *", "char[16]", "__data_loc char[]", "int", "pid_t"
	Offset   int
	Size     int
	Signed   bool
	Common   bool // a common_* header field
	ArrayLen int  // element count of a fixed array like `char comm[16]` (Type "char[16]"), else 0
	DataLoc  bool // __data_loc / __rel_loc: the u32 holds (len<<16 | offset)
	RelLoc   bool // __rel_loc: offset is relative to the end of the field
	Pointer  bool // type ends in '*'
	IsString bool // char/u8 array, __data_loc char[], or pointer to char
}

// Format is an event's parsed format file.
type Format struct {
	Tracepoint
	ID     uint32
	Fields []Field // in file order, common fields first
}

// Field looks up a non-common field by name.
func (f *Format) Field(name string) (Field, bool) {
	for _, fld := range f.Fields {
		if !fld.Common && fld.Name == name {
			return fld, true
		}
	}
	return Field{}, false
}

// ArgFields returns the non-common fields in file order.
func (f *Format) ArgFields() []Field {
	var args []Field
	for _, fld := range f.Fields {
		if !fld.Common {
			args = append(args, fld)
		}
	}
	return args
}

// ParseFormat parses the text of a tracefs format file. The category is not
// part of the text, so the result's Category is empty; Events.Format fills it
// in. Everything from "print fmt:" on is ignored.
func ParseFormat(text string) (*Format, error) {
	f := &Format{}
	var haveName, haveID bool
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		var err error
		switch {
		case strings.HasPrefix(line, "print fmt:"):
			return finish(f, haveName, haveID)
		case strings.HasPrefix(line, "name:"):
			f.Name = strings.TrimSpace(strings.TrimPrefix(line, "name:"))
			haveName = f.Name != ""
		case strings.HasPrefix(line, "ID:"):
			var id uint64
			id, err = strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "ID:")), 10, 32)
			f.ID, haveID = uint32(id), err == nil
		case strings.HasPrefix(line, "field:"):
			var fld Field
			fld, err = parseField(line)
			f.Fields = append(f.Fields, fld)
		}
		if err != nil {
			return nil, fmt.Errorf("format line %d: %w", i+1, err)
		}
	}
	return finish(f, haveName, haveID)
}

func finish(f *Format, haveName, haveID bool) (*Format, error) {
	switch {
	case !haveName:
		return nil, errors.New("format: no name line")
	case !haveID:
		return nil, errors.New("format: no ID line")
	}
	return f, nil
}

// parseField parses one line of the form
//
//	field:DECL;	offset:N;	size:N;	signed:N;
//
// where signed is absent on old kernels and then guessed from the type.
func parseField(line string) (Field, error) {
	parts := strings.Split(line, ";")
	decl := strings.TrimSpace(strings.TrimPrefix(parts[0], "field:"))
	fld, err := parseDecl(decl)
	if err != nil {
		return Field{}, err
	}
	var haveOffset, haveSize, haveSigned bool
	for _, p := range parts[1:] {
		key, val, ok := strings.Cut(strings.TrimSpace(p), ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err == nil && n < 0 {
			err = errors.New("negative")
		}
		switch key {
		case "offset":
			fld.Offset, haveOffset = n, true
		case "size":
			fld.Size, haveSize = n, true
		case "signed":
			fld.Signed, haveSigned = n != 0, true
		default:
			continue
		}
		if err != nil {
			return Field{}, fmt.Errorf("field %s: bad %s %q", fld.Name, key, val)
		}
	}
	switch {
	case !haveOffset:
		return Field{}, fmt.Errorf("field %s: no offset", fld.Name)
	case !haveSize:
		return Field{}, fmt.Errorf("field %s: no size", fld.Name)
	case !haveSigned:
		fld.Signed = signedTypes[fld.Type]
	}
	if fld.ArrayLen < 0 && isByte(elemType(fld.Type)) {
		fld.ArrayLen = fld.Size
	}
	fld.ArrayLen = max(fld.ArrayLen, 0)
	return fld, nil
}

// parseDecl splits a C declaration such as "const char * filename",
// "char comm[16]" or "__data_loc char[] name" into a Field's name and type
// properties. An array dimension that is not a number (older kernels print
// macro names like TASK_COMM_LEN) leaves ArrayLen at -1 for parseField to
// settle once the size is known.
func parseDecl(decl string) (Field, error) {
	base, dims := decl, ""
	for strings.HasSuffix(base, "]") {
		open := strings.LastIndexByte(base, '[')
		if open < 0 {
			return Field{}, fmt.Errorf("field %q: unbalanced ']'", decl)
		}
		base, dims = base[:open], base[open:]+dims
	}
	base = strings.TrimRightFunc(base, isSpace)
	nameStart := len(base)
	for nameStart > 0 && isIdent(base[nameStart-1]) {
		nameStart--
	}
	name := base[nameStart:]
	typ := strings.TrimSpace(base[:nameStart])
	if name == "" || typ == "" || '0' <= name[0] && name[0] <= '9' {
		return Field{}, fmt.Errorf("field %q: want TYPE NAME", decl)
	}
	fld := Field{Name: name, Type: typ + dims, Common: strings.HasPrefix(name, "common_")}
	if dims != "" {
		fld.ArrayLen = arrayLen(dims)
		fld.IsString = isByte(typ)
		return fld, nil
	}
	if loc, elem, ok := strings.Cut(typ, " "); ok && (loc == "__data_loc" || loc == "__rel_loc") {
		fld.DataLoc, fld.RelLoc = true, loc == "__rel_loc"
		fld.IsString = isChar(strings.TrimSuffix(strings.TrimSpace(elem), "[]"))
		return fld, nil
	}
	ptr := stripQualifiers(typ)
	fld.Pointer = strings.HasSuffix(ptr, "*")
	if fld.Pointer {
		target := stripQualifiers(strings.TrimSuffix(ptr, "*"))
		fld.IsString = !strings.HasSuffix(target, "*") && isChar(target)
	}
	return fld, nil
}

// arrayLen returns the element count of dims like "[16]" or "[2][8]", 0 for a
// flexible "[]", and -1 when a dimension is not a number.
func arrayLen(dims string) int {
	n := 1
	for _, d := range strings.Split(strings.Trim(dims, "[]"), "][") {
		d = strings.TrimSpace(d)
		if d == "" {
			return 0
		}
		k, err := strconv.Atoi(d)
		if err != nil || k < 0 || k > 0 && n > math.MaxInt/k {
			return -1
		}
		n *= k
	}
	return n
}

// elemType returns the element type of an array type like "char[16]".
func elemType(typ string) string {
	if i := strings.IndexByte(typ, '['); i >= 0 {
		return strings.TrimSpace(typ[:i])
	}
	return typ
}

// stripQualifiers removes leading and trailing const/volatile qualifiers and
// surrounding space, so "const char *const" becomes "char *".
func stripQualifiers(t string) string {
	for {
		t = strings.TrimSpace(t)
		switch {
		case strings.HasPrefix(t, "const "):
			t = t[len("const "):]
		case strings.HasPrefix(t, "volatile "):
			t = t[len("volatile "):]
		case strings.HasSuffix(t, "const") && !isIdentBefore(t, len(t)-len("const")):
			t = t[:len(t)-len("const")]
		case strings.HasSuffix(t, "volatile") && !isIdentBefore(t, len(t)-len("volatile")):
			t = t[:len(t)-len("volatile")]
		default:
			return t
		}
	}
}

// isIdentBefore reports whether the byte before t[i] continues an identifier.
func isIdentBefore(t string, i int) bool { return i > 0 && isIdent(t[i-1]) }

// isChar reports whether t is plain char, ignoring qualifiers.
func isChar(t string) bool { return stripQualifiers(t) == "char" }

// isByte reports whether t is a one-byte character type, ignoring qualifiers.
func isByte(t string) bool {
	switch stripQualifiers(t) {
	case "char", "signed char", "unsigned char", "u8", "__u8":
		return true
	}
	return false
}

func isIdent(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' }

// signedTypes are the common signed integer types, used to guess signedness
// on old kernels whose format files have no signed: key.
var signedTypes = map[string]bool{
	"signed char": true, "short": true, "int": true, "long": true, "long long": true,
	"s8": true, "s16": true, "s32": true, "s64": true,
	"__s8": true, "__s16": true, "__s32": true, "__s64": true,
	"pid_t": true, "ssize_t": true, "loff_t": true, "off_t": true, "time64_t": true,
}
