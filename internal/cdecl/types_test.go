package cdecl

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/corerelo"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// layouts are definitions whose every member offset and size gcc reports
// and Declare must reproduce: padding, bitfields packed and straddling,
// arrays, nested and anonymous members, unions, and structs and unions
// defined inside others (named or not, with a member or only a tag, three
// deep), then used by name as C allows.
const layouts = `
struct a { char c; int i; short s; long l; char tail; };
struct b { unsigned int x:3, y:7, z:30; char after; unsigned long long w:40, v:30; };
struct c { char name[13]; struct a nested; int *p; union { int i; char bytes[6]; } u; short end[3]; };
struct d { struct { int x; char y; } pair; char z; struct b bits[2]; };
union e { char c; long long l; struct a s; };
struct f {
	char c;
	struct g { short s; char t[3]; union h { int i; char b[5]; struct { char k; long m; } deep; } u; } inner;
	struct { char x; short y; } anon[3];
	union { char uc; long long ul; };
	struct tagonly { char q[7]; };
	struct g *gp, garr[2];
	unsigned int bits:5;
	struct node { struct node *next; char v; } list;
	char end;
};
struct i { struct tagonly t; union h hh; struct g g; char z; struct node n; };
`

// records are the types whose sizes the test compares.
var records = []string{"struct a", "struct b", "struct c", "struct d", "union e", "struct f", "struct g", "union h", "struct tagonly", "struct i", "struct node"}

// members are what the test asks of both: struct, member path.
var members = [][2]string{
	{"a", "c"}, {"a", "i"}, {"a", "s"}, {"a", "l"}, {"a", "tail"},
	{"b", "after"},
	{"c", "name"}, {"c", "nested"}, {"c", "p"}, {"c", "u"}, {"c", "end"},
	{"d", "pair"}, {"d", "z"}, {"d", "bits"},
	{"f", "inner"}, {"f", "inner.t"}, {"f", "inner.u"}, {"f", "inner.u.deep.m"}, {"f", "anon"}, {"f", "uc"}, {"f", "ul"},
	{"f", "gp"}, {"f", "garr"}, {"f", "list"}, {"f", "list.v"}, {"f", "end"},
	{"g", "u"}, {"g", "u.deep"},
	{"i", "t"}, {"i", "hh"}, {"i", "g"}, {"i", "z"}, {"i", "n"},
}

func TestLayoutMatchesGCC(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	var prog strings.Builder
	prog.WriteString("#include <stdio.h>\n#include <stddef.h>\n" + layouts + "int main(void) {\n")
	for _, name := range records {
		fmt.Fprintf(&prog, "\tprintf(\"sizeof %s %%zu\\n\", sizeof(%[1]s));\n", name)
	}
	for _, m := range members {
		fmt.Fprintf(&prog, "\tprintf(\"%s.%s %%zu\\n\", offsetof(struct %[1]s, %[2]s));\n", m[0], m[1])
	}
	prog.WriteString("\treturn 0;\n}\n")
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "layout.c"), filepath.Join(dir, "layout")
	if err := os.WriteFile(src, []byte(prog.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	want, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}

	tab := declared(t, layouts)
	var got strings.Builder
	for _, name := range records {
		typ, err := tab.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := btf.Sizeof(typ)
		fmt.Fprintf(&got, "sizeof %s %d\n", name, n)
	}
	for _, m := range members {
		typ, _ := tab.Lookup("struct " + m[0])
		f, err := corerelo.FindField(typ, strings.Split(m[1], "."))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&got, "%s.%s %d\n", m[0], m[1], f.BitOffset/8)
	}
	if got.String() != string(want) {
		t.Errorf("layout:\n%s\ngcc:\n%s", got.String(), want)
	}
}

func declared(t *testing.T, text string) *Table {
	t.Helper()
	tab := New(func() (*btf.Spec, error) { return kerneltest.FakeTypes(0), nil })
	decls := syntax.ParseHeader(source.NewFile("t.h", text))
	tab.Declare(decls, func(n syntax.Node, _, format string, args ...any) {
		t.Errorf("%v: "+format, append([]any{n.Span()}, args...)...)
	})
	return tab
}

// TestBitfields reads bitfields the way codegen does, from the bytes
// Layout names, and compares them with gcc's placement in struct b.
func TestBitfields(t *testing.T) {
	tab := declared(t, layouts)
	typ, _ := tab.Lookup("struct b")
	// gcc (checked by writing each field and finding its bytes): x bits
	// 0-2, y 3-9, z starts a new unit at 32 (it would straddle one), w
	// packs right after the char "after" at bit 72, and v, which would
	// straddle a 64-bit unit, starts the next at 128.
	for name, want := range map[string][2]int{"x": {0, 3}, "y": {3, 7}, "z": {32, 30}, "w": {72, 40}, "v": {128, 30}} {
		f, err := corerelo.FindField(typ, []string{name})
		if err != nil {
			t.Fatal(err)
		}
		if f.BitOffset != want[0] || f.BitSize != want[1] {
			t.Errorf("%s: bit %d width %d, want %d %d", name, f.BitOffset, f.BitSize, want[0], want[1])
		}
	}
}

func TestScriptTypes(t *testing.T) {
	tab := declared(t, layouts)
	for _, tc := range []struct {
		name string
		as   types.AddrSpace
		want types.Type
	}{
		{"struct a", types.User, types.RecordOf("struct a", 32, types.User)},
		{"int", types.Kernel, types.IntOf(4, true)},
		{"unsigned char", types.Kernel, types.IntOf(1, false)},
		{"pid_t", types.Kernel, types.IntOf(4, true)},
		{"struct task_struct *", types.Kernel, types.Pointer("struct task_struct", types.Kernel)},
	} {
		typ, err := tab.Lookup(tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got, ok := tab.ScriptType(typ, tc.as); !ok || got != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, got, ok, tc.want)
		}
	}
	task, _ := tab.Lookup("struct task_struct")
	f, _ := corerelo.FindField(task, []string{"comm"})
	if got, _ := tab.ScriptType(f.Type, types.Kernel); got.Kind != types.Str || got.Size != 16 {
		t.Errorf("char comm[16] is %v, want a string of 16", got)
	}
	if !tab.Relocatable("struct task_struct") || tab.Relocatable("struct a") {
		t.Error("kernel types relocate, the script's do not")
	}
	if _, err := tab.Lookup("struct nothing"); err == nil {
		t.Error("an unknown struct resolved")
	}
}
