package fentry

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/types"
)

var (
	i32   = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64   = &btf.Int{Name: "long unsigned int", Size: 8}
	char  = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	boolT = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	i128  = &btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed}
	file  = &btf.Struct{Name: "file", Size: 8, Members: []btf.Member{{Name: "f_flags", Type: u64}}}
	pair  = &btf.Struct{Name: "pair", Size: 16, Members: []btf.Member{{Name: "a", Type: u64}, {Name: "b", Type: u64, Offset: 64}}}
	big   = &btf.Struct{Name: "big", Size: 24, Members: []btf.Member{{Name: "a", Type: u64}}}
	color = &btf.Enum{Name: "color", Size: 4, Signed: true, Values: []btf.EnumValue{{Name: "RED"}}}
	dbl   = &btf.Float{Name: "double", Size: 8}
	sizeT = &btf.Typedef{Name: "size_t", Type: u64}
)

func proto(ret btf.Type, params ...btf.Type) *btf.FuncProto {
	fp := &btf.FuncProto{Return: ret}
	for i, p := range params {
		fp.Params = append(fp.Params, btf.FuncParam{Name: string(rune('a' + i)), Type: p})
	}
	return fp
}

// marshal encodes types as raw BTF in the given byte order.
func marshal(t testing.TB, order binary.ByteOrder, typs ...btf.Type) []byte {
	t.Helper()
	b, err := btf.NewBuilder(typs, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, &btf.MarshalOptions{Order: order})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A blob with a record of every kind the kernel writes.
func everyKind(t testing.TB, order binary.ByteOrder) []byte {
	fp := proto(i32, &btf.Pointer{Target: file}, sizeT, &btf.Const{Type: &btf.Pointer{Target: &btf.Volatile{Type: char}}})
	v := &btf.Var{Name: "counter", Type: u64, Linkage: btf.GlobalVar}
	return marshal(t, order,
		&btf.Func{Name: "vfs_read", Type: fp, Linkage: btf.GlobalFunc, Tags: []string{"tag"}},
		color, &btf.Enum{Name: "wide", Size: 8, Values: []btf.EnumValue{{Name: "W", Value: 1 << 40}}},
		&btf.Array{Index: u64, Type: char, Nelems: 16}, dbl,
		&btf.Union{Name: "u", Size: 8, Members: []btf.Member{{Name: "x", Type: u64}}},
		&btf.Fwd{Name: "later", Kind: btf.FwdUnion},
		&btf.Pointer{Target: &btf.TypeTag{Type: char, Value: "user"}},
		&btf.Restrict{Type: &btf.Pointer{Target: i32}},
		v, &btf.Datasec{Name: ".data", Size: 8, Vars: []btf.VarSecinfo{{Type: v, Size: 8}}},
		&btf.Func{Name: "ksys_read", Type: proto(i32), Linkage: btf.StaticFunc},
		&btf.Func{Name: "vfs_read", Type: proto(&btf.Void{}), Linkage: btf.StaticFunc},
	)
}

func TestFuncNames(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		raw := everyKind(t, order)
		names, ids, err := funcNames(raw)
		if err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%v: cilium: %v", order, err)
		}
		for i, id := range ids {
			if fn, err := spec.TypeByID(id); err != nil || fn.TypeName() != names[i] {
				t.Errorf("%v: %s has ID %d, where cilium finds %v, %v", order, names[i], id, fn, err)
			}
		}
		slices.Sort(names)
		if want := []string{"ksys_read", "vfs_read", "vfs_read"}; !slices.Equal(names, want) {
			t.Errorf("%v: got %q, want %q", order, names, want)
		}
		for n := range len(raw) {
			if _, _, err := funcNames(raw[:n]); !errors.Is(err, kernel.ErrBadBTF) {
				t.Fatalf("%v: %d of %d bytes: got %v, want kernel.ErrBadBTF", order, n, len(raw), err)
			}
		}
	}
}

// The scanner never panics on hostile input, and every error it returns
// says the BTF is malformed. TestFuncNames and TestFuncNamesVmlinux check
// what it finds in well-formed blobs.
func FuzzFuncNames(f *testing.F) {
	f.Add(everyKind(f, binary.LittleEndian))
	f.Add(everyKind(f, binary.BigEndian))
	f.Add([]byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, _, err := funcNames(raw); err != nil && !errors.Is(err, kernel.ErrBadBTF) {
			t.Fatalf("error %v does not wrap kernel.ErrBadBTF", err)
		}
	})
}

func requireBTF(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(kernel.VmlinuxBTF); errors.Is(err, os.ErrNotExist) {
		t.Skipf("needs kernel BTF (CONFIG_DEBUG_INFO_BTF): %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
}

// The scanner finds the functions cilium's full decoder finds in the
// running kernel's BTF.
func TestFuncNamesVmlinux(t *testing.T) {
	requireBTF(t)
	vm, err := vmlinuxFuncs()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for typ, err := range spec.All() {
		if err != nil {
			t.Fatal(err)
		}
		if fn, ok := typ.(*btf.Func); ok {
			count[fn.Name]++
		}
	}
	if len(count) != len(vm.names) || len(count) < 1000 {
		t.Fatalf("scanner: %d names, cilium: %d", len(vm.names), len(count))
	}
	for name, n := range count {
		if vm.count[name] != n {
			t.Fatalf("%s: scanner counts %d, cilium %d", name, vm.count[name], n)
		}
	}
	// Names with "___" in them, which cilium's lookup by name reads as
	// CO-RE flavours, decode by ID.
	for _, name := range []string{"____fput", "___sys_recvmsg", "vfs_read"} {
		if count[name] == 0 {
			continue
		}
		if fn, err := vm.lookup(name); err != nil || fn.Name != name {
			t.Errorf("lookup(%s) = %v, %v", name, fn, err)
		}
	}
}

func TestCDecl(t *testing.T) {
	for _, c := range []struct {
		typ  btf.Type
		want string
	}{
		{&btf.Pointer{Target: file}, "struct file *"},
		{&btf.Pointer{Target: &btf.Const{Type: char}}, "const char *"},
		{&btf.Pointer{Target: &btf.Pointer{Target: char}}, "char **"},
		{&btf.Const{Type: &btf.Pointer{Target: char}}, "char * const"},
		{&btf.Restrict{Type: &btf.Pointer{Target: &btf.Volatile{Type: i32}}}, "volatile int * restrict"},
		{&btf.Pointer{Target: proto(i32, &btf.Pointer{Target: &btf.Void{}}, i32)}, "int (*)(void *, int)"},
		{&btf.Pointer{Target: &btf.TypeTag{Type: char, Value: "user"}}, "char *"},
		{sizeT, "size_t"},
		{color, "enum color"},
		{&btf.Union{Size: 8}, "union (anon)"},
		{&btf.Fwd{Name: "sock", Kind: btf.FwdStruct}, "struct sock"},
		{&btf.Array{Type: char, Nelems: 16}, "char[16]"},
		{&btf.Void{}, "void"},
	} {
		if got := cDecl(c.typ); got != c.want {
			t.Errorf("cDecl(%v) = %q, want %q", c.typ, got, c.want)
		}
	}
}

func TestArgOf(t *testing.T) {
	for _, c := range []struct {
		typ  btf.Type
		want types.Type
	}{
		{i32, types.IntOf(4, true)},
		{sizeT, types.UInt64},
		{&btf.Const{Type: boolT}, types.IntOf(1, false)},
		{color, types.IntOf(4, true)},
	} {
		a, err := argOf(c.typ, 2, "x")
		if err != nil || a.Type != c.want || a.Load != nil || a.Offset != 16 {
			t.Errorf("%v: got %+v, %v; want %v at 16", c.typ, a, err, c.want)
		}
	}
	// Pointers are copied out of the context.
	for _, c := range []struct {
		typ  btf.Type
		want types.Type
	}{
		{&btf.Pointer{Target: file}, types.Pointer("struct file", types.Kernel)},
		{&btf.Pointer{Target: &btf.Const{Type: char}}, types.Pointer("char", types.Kernel)},
		{&btf.Pointer{Target: &btf.TypeTag{Type: char, Value: "user"}}, types.Pointer("char", types.User)},
		{&btf.Pointer{Target: &btf.Typedef{Name: "loff_t", Type: u64}}, types.Pointer("loff_t", types.Kernel)},
		{&btf.Pointer{Target: &btf.Void{}}, types.Pointer("void", types.Kernel)},
		{&btf.Pointer{Target: &btf.Pointer{Target: file}}, types.Pointer("struct file *", types.Kernel)},
		{&btf.Pointer{Target: color}, types.Pointer("enum color", types.Kernel)},
		{&btf.Pointer{Target: &btf.Fwd{Name: "sock"}}, types.Pointer("struct sock", types.Kernel)},
	} {
		a, err := argOf(c.typ, 2, "x")
		if err != nil || a.Type != c.want || a.Load == nil {
			t.Errorf("%v: got %+v, %v; want a copied %v", c.typ, a, err, c.want)
			continue
		}
		if got := a.Load(-8); got[4].Constant != 16 || !got[5].IsBuiltinCall() {
			t.Errorf("%v: copies with\n%v", c.typ, got)
		}
	}
	for _, c := range []struct {
		typ  btf.Type
		want string
	}{
		{pair, "x is a struct pair passed by value, which ebtrace cannot read yet"},
		{dbl, "x is a double"},
		{i128, "x is a __int128"},
	} {
		var pe *probe.Error
		if _, err := argOf(c.typ, 0, "x"); !errors.As(err, &pe) || !strings.HasPrefix(pe.Msg, c.want) {
			t.Errorf("%v: got %v, want %q", c.typ, err, c.want)
		}
	}
}

func TestLayout(t *testing.T) {
	params, ret := layout(proto(i32, i32, pair, &btf.Pointer{Target: file}, i128, char))
	var slots []int
	for _, p := range params {
		slots = append(slots, p.Slot)
	}
	if !slices.Equal(slots, []int{0, 1, 3, 4, 6}) || ret != 7 {
		t.Errorf("slots %v, return at %d", slots, ret)
	}
}

func TestUnsupported(t *testing.T) {
	many := make([]btf.Type, 13)
	for i := range many {
		many[i] = i32
	}
	for _, c := range []struct {
		fp   *btf.FuncProto
		want string
	}{
		{proto(i32, i32, pair, &btf.Pointer{Target: big}), ""},
		{proto(&btf.Void{}), ""},
		{proto(i32, i32, &btf.Void{}), "it takes variable arguments"},
		{proto(i32, many...), "it has 13 parameters, more than the kernel's limit of 12"},
		{proto(i32, big), "parameter a has type struct big"},
		{proto(i32, dbl), "parameter a has type double"},
		{proto(pair), "it returns struct pair"},
	} {
		if got := unsupported(c.fp); got != c.want {
			t.Errorf("unsupported(%v) = %q, want %q", c.fp, got, c.want)
		}
	}
}

func expand(t *testing.T, p Provider, spec string) *instance {
	t.Helper()
	ins, err := p.Expand(spec, &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 {
		t.Fatalf("%s expands to %d instances", spec, len(ins))
	}
	return ins[0].(*instance)
}

// vfs_read(struct file *file, char *buf, size_t count, loff_t *pos) is
// typed from the running kernel's BTF.
func TestVfsRead(t *testing.T) {
	requireBTF(t)
	in := expand(t, Entry, "vfs_read")
	if in.Name() != "fentry:vfs_read" || in.Program() != (probe.Program{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, AttachTo: "vfs_read"}) {
		t.Errorf("%s: %+v", in.Name(), in.Program())
	}
	if a, err := in.Arg("count"); err != nil || a.Type != types.UInt64 || a.Offset != 16 || a.Load != nil {
		t.Errorf("args.count = %+v, %v; want uint64 at 16", a, err)
	}
	for name, want := range map[string]types.Type{
		"file": types.Pointer("struct file", types.Kernel),
		"buf":  types.Pointer("char", types.Kernel),
		"pos":  types.Pointer("loff_t", types.Kernel),
	} {
		if a, err := in.Arg(name); err != nil || a.Type != want || a.Load == nil {
			t.Errorf("args.%s = %+v, %v; want a copied %v", name, a, err, want)
		}
	}
	var pe *probe.Error
	if _, err := in.Arg("cont"); !errors.As(err, &pe) || pe.Msg != `fentry:vfs_read has no argument "cont"` ||
		!slices.Equal(pe.Hints, []string{"did you mean count?", "arguments: file, buf, count, pos"}) {
		t.Errorf("args.cont: %v %q", err, pe.Hints)
	}
	if _, ok := in.Builtin("retval"); ok {
		t.Error("fentry defines retval")
	}
	if a, ok := in.Builtin("func"); !ok || a.Text != "vfs_read" {
		t.Errorf("func = %+v", a)
	}
	// arg0 (struct file *) is copied; arg2 (size_t) is read.
	if a, ok := in.Builtin("arg0"); !ok || a.Type != types.UInt64 || a.Load == nil {
		t.Errorf("arg0 = %+v, %v", a, ok)
	}
	if a, ok := in.Builtin("arg2"); !ok || a.Type != types.UInt64 || a.Offset != 16 || a.Load != nil {
		t.Errorf("arg2 = %+v, %v", a, ok)
	}
	if _, ok := in.Builtin("arg4"); ok {
		t.Error("vfs_read has an arg4")
	}

	out := expand(t, Exit, "vfs_read")
	if out.Program().AttachType != ebpf.AttachTraceFExit {
		t.Errorf("fexit program %+v", out.Program())
	}
	if a, ok := out.Builtin("retval"); !ok || a.Type != types.Int64 || a.Offset != 32 {
		t.Errorf("retval = %+v, %v; want int64 at 32", a, ok)
	}
	if a, err := out.Arg("count"); err != nil || a.Offset != 16 {
		t.Errorf("fexit args.count = %+v, %v", a, err)
	}
	if in := expand(t, Entry, "vmlinux:vfs_read"); in.Name() != "fentry:vmlinux:vfs_read" || in.fn != "vfs_read" {
		t.Errorf("fentry:vmlinux:vfs_read is %s on %s", in.Name(), in.fn)
	}
}

func TestExpandWildcard(t *testing.T) {
	requireBTF(t)
	ins, err := Exit.Expand("vfs_rea?", &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range ins {
		names = append(names, in.Name())
	}
	if !slices.Equal(names, []string{"fexit:vfs_read"}) {
		t.Errorf("fexit:vfs_rea? expands to %q", names)
	}
	ins, err = Exit.Expand("[v]m*:vfs_re[a-c]\\d", &probe.Env{})
	if err != nil || len(ins) != 1 || ins[0].Name() != "fexit:vmlinux:vfs_read" {
		t.Errorf("fexit:[v]m*:vfs_re[a-c]\\d expands to %v, %v", ins, err)
	}
	ins, err = Exit.Expand("vm*:vfs_read", &probe.Env{})
	if err != nil || len(ins) != 1 || ins[0].Name() != "fexit:vmlinux:vfs_read" {
		t.Errorf("fexit:vm*:vfs_read expands to %v, %v", ins, err)
	}
	ins, err = Entry.Expand("vfs_*", &probe.Env{})
	if err != nil || len(ins) < 10 {
		t.Fatalf("fentry:vfs_*: %d, %v", len(ins), err)
	}
	for _, in := range ins {
		if !strings.HasPrefix(in.Name(), "fentry:vfs_") || unsupported(in.(*instance).proto) != "" {
			t.Errorf("fentry:vfs_* expands to %s", in.Name())
		}
	}
}

func TestExpandErrors(t *testing.T) {
	requireBTF(t)
	syms, err := kernel.ParseKallsyms(strings.NewReader("ffffffff81000000 T only_in_kallsyms\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := &probe.Env{Kallsyms: func() ([]kernel.KernelSymbol, error) { return syms, nil }}
	for _, c := range []struct {
		p         Provider
		spec      string
		msg, hint string
	}{
		{Entry, "", "names no function", "for example fentry:vfs_read"},
		{Exit, "a:b:c", "too many parts", "fexit:vfs_read"},
		{Entry, "vfs read", "is not a kernel function name", ""},
		{Exit, "vfs_read+8", "offsets apply to kprobe only, not fexit", ""},
		{Entry, "vfs_raed", "fentry:vfs_raed: no kernel function vfs_raed in BTF", "did you mean vfs_read,"},
		{Entry, "only_in_kallsyms", "kernel function only_in_kallsyms has no BTF", "kprobe:only_in_kallsyms"},
		{Entry, "no_such_module:vfs_read", "module no_such_module is not loaded or has no BTF", ""},
		{Entry, "vfs_raed*", "matches no kernel function", "ebtrace -l 'fentry:*'"},
		{Entry, "vmlinux:nosuch*", "matches no kernel function", ""},
		{Entry, "vfs_[rw", "fentry:vfs_[rw: bad wildcard pattern", "wildcards are"},
	} {
		_, err := c.p.Expand(c.spec, env)
		var pe *probe.Error
		if !errors.As(err, &pe) {
			t.Errorf("%s:%s: got %v, want a *probe.Error", c.p.names[0], c.spec, err)
			continue
		}
		if !strings.Contains(pe.Msg, c.msg) || !strings.Contains(strings.Join(pe.Hints, "\n"), c.hint) {
			t.Errorf("%s:%s: got %q %q, want %q with hint %q", c.p.names[0], c.spec, pe.Msg, pe.Hints, c.msg, c.hint)
		}
	}
}

func TestListing(t *testing.T) {
	requireBTF(t)
	for _, c := range []struct {
		p    Provider
		want []string
	}{
		{Entry, []string{"struct file * file", "char * buf", "size_t count", "loff_t * pos"}},
		{Exit, []string{"struct file * file", "char * buf", "size_t count", "loff_t * pos", "ssize_t retval"}},
	} {
		list, err := c.p.Probes("*", &probe.Env{})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list, func(l probe.Listing) bool { return l.Name == c.p.names[0]+":vfs_read" })
		if i < 0 {
			t.Fatalf("%s lists no vfs_read among %d", c.p.names[0], len(list))
		}
		got, err := list[i].Args()
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, %v; want %q", list[i].Name, got, err, c.want)
		}
	}
}

// Available is nil exactly when an fentry program loads and attaches;
// otherwise it says why in one sentence wrapping ebpf.ErrNotSupported.
func TestAvailable(t *testing.T) {
	requireBTF(t)
	in := expand(t, Entry, "vfs_read")
	err := in.Available()
	if err == nil {
		return
	}
	if !errors.Is(err, ebpf.ErrNotSupported) {
		t.Errorf("%v does not wrap ebpf.ErrNotSupported", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "fentry:vfs_read: ") || !strings.Contains(msg, "trampolines") || strings.Contains(msg, "\n") ||
		!strings.Contains(msg, " instead") {
		t.Errorf("message %q", msg)
	}
	t.Log(msg)
}
