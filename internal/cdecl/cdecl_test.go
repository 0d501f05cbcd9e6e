package cdecl

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kerneltest"
)

// C types as kernel BTF names them.
var (
	cChar  = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	cUChar = &btf.Int{Name: "unsigned char", Size: 1}
	cShort = &btf.Int{Name: "short int", Size: 2, Encoding: btf.Signed}
	cInt   = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	cUInt  = &btf.Int{Name: "unsigned int", Size: 4}
	cLong  = &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	cULong = &btf.Int{Name: "long unsigned int", Size: 8}
	cBool  = &btf.Typedef{Name: "bool", Type: &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}}
	cU8    = &btf.Typedef{Name: "u8", Type: cUChar}
	cS32   = &btf.Typedef{Name: "s32", Type: cInt}
	cSsize = &btf.Typedef{Name: "ssize_t", Type: cLong}
	file   = &btf.Struct{Name: "file", Size: 8, Members: []btf.Member{{Name: "f", Type: cLong}}}
)

func ptr(t btf.Type) btf.Type  { return &btf.Pointer{Target: t} }
func cnst(t btf.Type) btf.Type { return &btf.Const{Type: t} }
func array(t btf.Type, n uint32) btf.Type {
	return &btf.Array{Index: cUInt, Type: t, Nelems: n}
}
func fn(ret btf.Type, params ...btf.Type) *btf.FuncProto {
	f := &btf.FuncProto{Return: ret}
	for _, p := range params {
		f.Params = append(f.Params, btf.FuncParam{Type: p})
	}
	return f
}

func TestDeclaration(t *testing.T) {
	void := &btf.Void{}
	for _, tc := range []struct {
		typ  btf.Type
		name string
		want string
	}{
		{cInt, "x", "int x"},
		{ptr(void), "stack", "void *stack"},
		{ptr(ptr(cChar)), "argv", "char **argv"},
		{cnst(ptr(cChar)), "p", "char * const p"},
		{ptr(cnst(ptr(cnst(cChar)))), "native", "const char * const *native"},
		{ptr(fn(cSsize, ptr(file), ptr(cChar))), "read", "ssize_t (*read)(struct file *, char *)"},
		{cnst(ptr(fn(ptr(cnst(cChar)), ptr(cnst(file))))), "name", "const char * (* const name)(const struct file *)"},
		{ptr(array(cChar, 16)), "names", "char (*names)[16]"},
		{array(array(cInt, 3), 2), "m", "int m[2][3]"},
		{array(ptr(file), 4), "files", "struct file *files[4]"},
		{cnst(array(cnst(cChar), 8)), "tag", "const char tag[8]"},
		{array(cU8, 0), "data", "u8 data[0]"},
		{ptr(fn(void)), "done", "void (*done)()"},
		{ptr(fn(cInt, void)), "only", "int (*only)(void)"},
		{ptr(fn(cInt, ptr(cnst(cChar)), void)), "printk", "int (*printk)(const char *, ...)"},
		{ptr(ptr(fn(cInt, cInt))), "pp", "int (**pp)(int)"},
		{ptr(fn(ptr(fn(void, cInt)), cLong)), "handler", "void (* (*handler)(long int))(int)"},
		{&btf.Const{Type: &btf.Volatile{Type: cInt}}, "v", "volatile const int v"},
		{ptr(file), "", "struct file *"},
		{&btf.Fwd{Name: "sock", Kind: btf.FwdStruct}, "sk", "struct sock sk"},
		{&btf.Enum{Name: "e", Size: 4}, "state", "enum e state"},
		{&btf.TypeTag{Value: "user", Type: cChar}, "c", "char c"},
	} {
		if got := declaration(tc.typ, tc.name, 0); got != tc.want {
			t.Errorf("declaration(%v, %q) = %q, want %q", tc.typ, tc.name, got, tc.want)
		}
	}
}

// s1 has what task_struct has: bitfields that end mid-unit, a member
// after them that needs an explicit alignment mark, a gap before a
// cache-line aligned member, and padding at its end.
var s1 = &btf.Struct{Name: "s1", Size: 128, Members: []btf.Member{
	{Name: "jobctl", Type: cULong},
	{Name: "personality", Type: cUInt, Offset: 64},
	{Name: "a", Type: cUInt, Offset: 96, BitfieldSize: 1},
	{Name: "b", Type: cUInt, Offset: 97, BitfieldSize: 3},
	{Name: "c", Type: cUInt, Offset: 128, BitfieldSize: 1},
	{Name: "flag", Type: cBool, Offset: 160},
	{Name: "inner", Type: file, Offset: 512},
}}

// s2 is packed; s3 nests anonymous types; s4 and s5 have gaps a compiler
// would not leave by itself.
var (
	s2 = &btf.Struct{Name: "s2", Size: 5, Members: []btf.Member{
		{Name: "op", Type: cU8},
		{Name: "raddr", Type: cS32, Offset: 8},
	}}
	s3 = &btf.Struct{Name: "s3", Size: 40, Members: []btf.Member{
		{Type: &btf.Union{Size: 16, Members: []btf.Member{
			{Type: &btf.Struct{Size: 16, Members: []btf.Member{
				{Name: "next", Type: ptr(file)},
				{Name: "prev", Type: ptr(file), Offset: 64},
			}}},
			{Name: "raw", Type: array(cChar, 16)},
		}}},
		{Name: "pair", Type: &btf.Struct{Size: 5, Members: []btf.Member{
			{Name: "op", Type: cU8},
			{Name: "val", Type: cS32, Offset: 8},
		}}, Offset: 128},
		{Name: "empty", Type: &btf.Struct{}, Offset: 168},
		{Name: "mode", Type: &btf.Enum{Size: 1, Values: []btf.EnumValue{{Name: "M_A", Value: 0}, {Name: "M_B", Value: 2}}}, Offset: 168},
		{Name: "done", Type: ptr(fn(&btf.Void{}, ptr(file))), Offset: 192},
		{Name: "count", Type: cShort, Offset: 256},
	}}
	s4 = &btf.Struct{Name: "s4", Size: 5, Members: []btf.Member{
		{Name: "a", Type: cChar},
		{Name: "b", Type: cChar, Offset: 32},
	}}
	s5 = &btf.Struct{Name: "s5", Size: 10, Members: []btf.Member{
		{Name: "a", Type: cChar},
		{Name: "b", Type: cChar, Offset: 72},
	}}
)

func TestDefinition(t *testing.T) {
	for _, tc := range []struct {
		typ  btf.Type
		want string
	}{
		{s1, `struct s1 {
	long unsigned int jobctl;
	unsigned int personality;
	unsigned int a: 1;
	unsigned int b: 3;
	long: 28;
	unsigned int c: 1;
	int: 0;
	bool flag;
	long: 64;
	long: 64;
	long: 64;
	long: 64;
	long: 64;
	struct file inner;
	long: 64;
	long: 64;
	long: 64;
	long: 64;
	long: 64;
	long: 64;
	long: 64;
};
`},
		{s2, `struct s2 {
	u8 op;
	s32 raddr;
} __attribute__((packed));
`},
		{s3, `struct s3 {
	union {
		struct {
			struct file *next;
			struct file *prev;
		};
		char raw[16];
	};
	struct {
		u8 op;
		s32 val;
	} __attribute__((packed)) pair;
	struct {} empty;
	enum {
		M_A = 0,
		M_B = 2,
	} __attribute__((mode(byte))) mode;
	void (*done)(struct file *);
	short int count;
};
`},
		{s4, `struct s4 {
	char a;
	int: 0;
	char b;
};
`},
		{s5, `struct s5 {
	char a;
	long: 0;
	char: 8;
	char b;
};
`},
		{&btf.Union{Name: "u", Size: 8, Members: []btf.Member{{Name: "i", Type: cInt}, {Name: "l", Type: cLong}}}, `union u {
	int i;
	long int l;
};
`},
		{&btf.Enum{Name: "signs", Size: 4, Signed: true, Values: []btf.EnumValue{{Name: "NEG", Value: 0xffffffff}, {Name: "POS", Value: 7}}}, `enum signs {
	NEG = -1,
	POS = 7,
};
`},
		{&btf.Enum{Name: "big", Size: 4, Values: []btf.EnumValue{{Name: "B", Value: 3144134277}}}, `enum big {
	B = 3144134277,
};
`},
		{&btf.Enum{Name: "wide", Size: 8, Values: []btf.EnumValue{{Name: "W_MAX", Value: 1<<64 - 1}}}, `enum wide {
	W_MAX = 18446744073709551615ULL,
};
`},
		{cSsize, "ssize_t;\n"},
		{&btf.Enum{Name: "narrow64", Size: 8, Signed: true, Values: []btf.EnumValue{{Name: "N", Value: 5}}}, `enum narrow64 {
	N = 5LL,
} __attribute__((mode(word)));
`},
	} {
		if got := Definition(tc.typ); got != tc.want {
			t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
		}
	}
}

// TestDefinitionLayout has gcc compile the definitions and check that
// every member lies where BTF says and every size is BTF's: the padding
// Definition writes must reproduce the layout, not only look like
// libbpf's.
func TestDefinitionLayout(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	var src strings.Builder
	src.WriteString("typedef _Bool bool;\ntypedef unsigned char u8;\ntypedef int s32;\n")
	src.WriteString(Definition(file))
	for _, s := range []*btf.Struct{s1, s2, s3, s4, s5} {
		src.WriteString(Definition(s))
		fmt.Fprintf(&src, "_Static_assert(sizeof(struct %s) == %d, \"sizeof %[1]s\");\n", s.Name, s.Size)
		for _, m := range s.Members {
			if m.Name != "" && m.BitfieldSize == 0 {
				fmt.Fprintf(&src, "_Static_assert(__builtin_offsetof(struct %s, %s) == %d, \"%[1]s.%[2]s\");\n", s.Name, m.Name, m.Offset/8)
			}
		}
	}
	cmd := exec.Command(gcc, "-fsyntax-only", "-x", "c", "-")
	cmd.Stdin = strings.NewReader(src.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("gcc: %v\n%s\nsource:\n%s", err, out.String(), src.String())
	}
}

func TestListTypes(t *testing.T) {
	spec := kerneltest.FakeTypes(0)
	for _, tc := range []struct {
		pattern string
		verbose bool
		want    string
	}{
		{"struct *", false, "struct file\nstruct task_struct\n"},
		{"struct f?le", false, "struct file\n"},
		{"union *", false, ""},
		{"struct nothing", true, ""},
		{"struct file", true, `struct file {
	unsigned int f_flags;
	unsigned int f_mode;
	struct task_struct *f_owner;
};

`},
	} {
		var b strings.Builder
		if err := ListTypes(&b, spec, tc.pattern, tc.verbose); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("ListTypes(%q, %v):\n%s\nwant:\n%s", tc.pattern, tc.verbose, b.String(), tc.want)
		}
	}
	if err := ListTypes(&strings.Builder{}, spec, "struct [", false); err == nil {
		t.Error("ListTypes accepted a malformed pattern")
	}
	for pattern, want := range map[string]bool{"struct task*": true, "union bpf_attr": true, "enum *": true, "tracepoint:*": false, "struct": false, "structx y": false} {
		if IsTypePattern(pattern) != want {
			t.Errorf("IsTypePattern(%q) = %v", pattern, !want)
		}
	}
}
