package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// byteOrder both reads and appends.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// noteBytes encodes one ELF note, padded to align.
func noteBytes(order byteOrder, align int, owner string, typ uint32, desc []byte) []byte {
	pad := func(b []byte) []byte {
		for len(b)%align != 0 {
			b = append(b, 0)
		}
		return b
	}
	var out []byte
	out = order.AppendUint32(out, uint32(len(owner)+1))
	out = order.AppendUint32(out, uint32(len(desc)))
	out = order.AppendUint32(out, typ)
	out = append(out, pad(append([]byte(owner), 0))...)
	return append(out, pad(desc)...)
}

// stapsdtDesc encodes a stapsdt descriptor with addresses of addrSize bytes.
func stapsdtDesc(order byteOrder, addrSize int, pc, base, sema uint64, strs ...string) []byte {
	var out []byte
	for _, a := range []uint64{pc, base, sema} {
		if addrSize == 4 {
			out = order.AppendUint32(out, uint32(a))
		} else {
			out = order.AppendUint64(out, a)
		}
	}
	for _, s := range strs {
		out = append(append(out, s...), 0)
	}
	return out
}

func TestParseNotes(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	tick := Note{Provider: "ebtrace", Name: "tick", PC: 0x1139, Base: 0x2004, Semaphore: 0x4010, Args: "-4@%edi 8@%rax"}
	for _, c := range []struct {
		name  string
		data  []byte
		order byteOrder
		class elf.Class
		align uint64
		want  []Note
	}{
		{"elf64 little endian", noteBytes(le, 4, "stapsdt", 3, stapsdtDesc(le, 8, 0x1139, 0x2004, 0x4010, "ebtrace", "tick", "-4@%edi 8@%rax")),
			le, elf.ELFCLASS64, 4, []Note{tick}},
		{"elf32 big endian", noteBytes(be, 4, "stapsdt", 3, stapsdtDesc(be, 4, 0x1139, 0x2004, 0x4010, "ebtrace", "tick", "-4@%edi 8@%rax")),
			be, elf.ELFCLASS32, 4, []Note{tick}},
		{"8-byte alignment", noteBytes(le, 8, "stapsdt", 3, stapsdtDesc(le, 8, 0x1139, 0x2004, 0x4010, "ebtrace", "tick", "-4@%edi 8@%rax")),
			le, elf.ELFCLASS64, 8, []Note{tick}},
		{"no arguments", noteBytes(le, 4, "stapsdt", 3, stapsdtDesc(le, 8, 1, 2, 0, "p", "n", "")),
			le, elf.ELFCLASS64, 4, []Note{{Provider: "p", Name: "n", PC: 1, Base: 2}}},
		{"no argument string at all", noteBytes(le, 4, "stapsdt", 3, stapsdtDesc(le, 8, 1, 2, 0, "p", "n")),
			le, elf.ELFCLASS64, 4, []Note{{Provider: "p", Name: "n", PC: 1, Base: 2}}},
		{"other notes skipped", bytes.Join([][]byte{
			noteBytes(le, 4, "GNU", 3, []byte{1, 2, 3, 4}),
			noteBytes(le, 4, "stapsdt", 2, stapsdtDesc(le, 8, 9, 9, 9, "old", "v2", "")),
			noteBytes(le, 4, "stapsdt", 3, stapsdtDesc(le, 8, 0x1139, 0x2004, 0x4010, "ebtrace", "tick", "-4@%edi 8@%rax")),
			noteBytes(le, 4, "stapsdt", 3, stapsdtDesc(le, 8, 1, 2, 0, "p", "n", "")),
		}, nil), le, elf.ELFCLASS64, 4, []Note{tick, {Provider: "p", Name: "n", PC: 1, Base: 2}}},
		{"empty section", nil, le, elf.ELFCLASS64, 4, nil},
	} {
		got, err := ParseNotes(c.data, c.order, c.class, c.align)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: ParseNotes = %+v, %v\nwant %+v", c.name, got, err, c.want)
		}
	}
}

func TestParseNotesErrors(t *testing.T) {
	le := binary.LittleEndian
	good := noteBytes(le, 4, "stapsdt", 3, stapsdtDesc(le, 8, 1, 2, 3, "p", "n", "8@%rax"))
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated header", "truncated header", good[:8]},
		{"truncated descriptor", "past the section's end", good[:len(good)-4]},
		{"short descriptor", "too short", noteBytes(le, 4, "stapsdt", 3, make([]byte, 16))},
		{"unterminated strings", "not NUL-terminated", noteBytes(le, 4, "stapsdt", 3, append(stapsdtDesc(le, 8, 1, 2, 3, "p", "n"), "8@%rax"...))},
		{"missing name", "not NUL-terminated", noteBytes(le, 4, "stapsdt", 3, stapsdtDesc(le, 8, 1, 2, 3)[:24])},
		{"empty provider", "empty provider", noteBytes(le, 4, "stapsdt", 3, stapsdtDesc(le, 8, 1, 2, 3, "", "n", ""))},
	} {
		_, err := ParseNotes(c.data, le, elf.ELFCLASS64, 4)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func FuzzParseNotes(f *testing.F) {
	le := binary.LittleEndian
	f.Add(noteBytes(le, 4, "stapsdt", 3, stapsdtDesc(le, 8, 0x1139, 0x2004, 0x4010, "ebtrace", "tick", "-4@%edi 8@%rax")), false)
	f.Add(noteBytes(le, 4, "GNU", 1, []byte{1, 2, 3, 4}), true)
	f.Fuzz(func(t *testing.T, data []byte, elf32 bool) {
		class := elf.ELFCLASS64
		if elf32 {
			class = elf.ELFCLASS32
		}
		notes, err := ParseNotes(data, le, class, 4)
		if err != nil {
			return
		}
		for _, n := range notes {
			if n.Provider == "" || n.Name == "" || strings.ContainsRune(n.Provider+n.Name+n.Args, 0) {
				t.Errorf("note %+v", n)
			}
		}
	})
}

func buildTicker(t *testing.T, opt string) string {
	t.Helper()
	return testutil.BuildC(t, "testdata/ticker.c", opt, "testdata/guarded.c")
}

var readelfNote = regexp.MustCompile(`Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)`)

// Notes agrees with readelf -n on a binary gcc built.
func TestNotesOfBinary(t *testing.T) {
	bin := buildTicker(t, "-O2")
	out, err := exec.Command("readelf", "-n", bin).Output()
	if errors.Is(err, exec.ErrNotFound) {
		t.Skipf("needs readelf (binutils): %v", err)
	}
	if err != nil {
		t.Fatalf("readelf -n %s: %v", bin, err)
	}
	var want []Note
	for _, m := range readelfNote.FindAllStringSubmatch(string(out), -1) {
		num := func(s string) uint64 { v, _ := strconv.ParseUint(s, 0, 64); return v }
		want = append(want, Note{Provider: m[1], Name: m[2], PC: num(m[3]), Base: num(m[4]), Semaphore: num(m[5]), Args: m[6]})
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Notes(f)
	if err != nil || len(want) != 4 || !reflect.DeepEqual(got, want) {
		t.Errorf("Notes = %+v, %v\nreadelf says %+v", got, err, want)
	}
}

// A prelinked file's notes record the old .stapsdt.base; their addresses
// move as far as the section did.
func TestNotesPrelinked(t *testing.T) {
	bin := buildTicker(t, "-O2")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".note.stapsdt")
	orig, err := Notes(f)
	f.Close()
	if err != nil || sec == nil || len(orig) == 0 {
		t.Fatalf("no notes: %v", err)
	}
	// Pretend every note was written when .stapsdt.base sat 0x1000 lower.
	const moved = 0x1000
	for off := sec.Offset; off < sec.Offset+sec.Size; {
		nameSize := uint64(binary.LittleEndian.Uint32(data[off:]))
		descSize := uint64(binary.LittleEndian.Uint32(data[off+4:]))
		desc := off + 12 + roundUp(nameSize, 4)
		base := binary.LittleEndian.Uint64(data[desc+8:])
		binary.LittleEndian.PutUint64(data[desc+8:], base-moved)
		off = desc + roundUp(descSize, 4)
	}
	patched := filepath.Join(t.TempDir(), "prelinked")
	if err := os.WriteFile(patched, data, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err = elf.Open(patched)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Notes(f)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range got {
		want := orig[i]
		want.PC += moved
		want.Base -= moved
		if want.Semaphore != 0 {
			want.Semaphore += moved
		}
		if n != want {
			t.Errorf("note %d: %+v, want %+v", i, n, want)
		}
	}
}
