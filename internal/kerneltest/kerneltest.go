// Package kerneltest holds stand-ins for the running kernel, for tests in
// any package: a small tracefs tree of real format files and a small
// kernel BTF whose layouts differ from any real kernel's. It is imported by
// tests only, so none of it is compiled into ebtrace.
package kerneltest

import (
	"embed"
	"io/fs"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// testdata holds real format files copied from a 6.18 kernel's tracefs.
//
//go:embed testdata/tracefs
var testdata embed.FS

// Fake returns kernel.Events over a small embedded tracefs tree of real format
// files (syscalls, sched, raw_syscalls, task and kmem events), for tests in any
// package. Each call returns a fresh, uncached Events.
func Fake() *kernel.Events {
	tree, err := fs.Sub(testdata, "testdata/tracefs")
	if err != nil {
		panic(err)
	}
	return kernel.NewEvents(tree)
}

// FakeTypes returns a small kernel BTF for tests in any package: a
// task_struct whose layout differs from any real kernel's (pid at 0, tgid
// at 4, bitfields, an anonymous union, real_parent, comm, files, and acct,
// a member of an anonymous struct type), and a file.
// Layout is a parameter so that tests can build two kernels' worth and see
// relocations move; pad bytes go before real_parent.
func FakeTypes(pad uint32) *btf.Spec {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64 := &btf.Int{Name: "long long unsigned int", Size: 8}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}
	task := &btf.Struct{Name: "task_struct"}
	file := &btf.Struct{Name: "file", Size: 16, Members: []btf.Member{
		{Name: "f_flags", Type: u32, Offset: 0},
		{Name: "f_mode", Type: u32, Offset: 32},
		{Name: "f_owner", Type: &btf.Pointer{Target: task}, Offset: 64},
	}}
	anon := &btf.Union{Size: 8, Members: []btf.Member{{Name: "cpu", Type: u32}, {Name: "wide", Type: u64}}}
	acct := &btf.Struct{Size: 8, Members: []btf.Member{{Name: "count", Type: u32}, {Name: "level", Type: u32, Offset: 32}}}
	pid := &btf.Typedef{Name: "pid_t", Type: i32}
	base := 8 * pad
	task.Members = []btf.Member{
		{Name: "pid", Type: pid, Offset: 0},
		{Name: "tgid", Type: pid, Offset: 32},
		{Name: "in_execve", Type: u32, Offset: 64, BitfieldSize: 1},
		{Name: "in_iowait", Type: u32, Offset: 65, BitfieldSize: 3},
		{Name: "", Type: anon, Offset: 128},
		{Name: "real_parent", Type: &btf.Pointer{Target: task}, Offset: btf.Bits(192 + base)},
		{Name: "comm", Type: &btf.Array{Index: u32, Type: char, Nelems: 16}, Offset: btf.Bits(256 + base)},
		{Name: "files", Type: &btf.Array{Index: u32, Type: &btf.Pointer{Target: file}, Nelems: 4}, Offset: btf.Bits(384 + base)},
		{Name: "acct", Type: acct, Offset: btf.Bits(640 + base)},
	}
	task.Size = 88 + pad
	b, err := btf.NewBuilder([]btf.Type{task, file, pid}, nil)
	if err != nil {
		panic(err)
	}
	spec, err := b.Spec()
	if err != nil {
		panic(err)
	}
	return spec
}

// FakeTypesRaw is FakeTypes(pad) encoded as raw BTF, as another kernel's
// /sys/kernel/btf/vmlinux would be.
func FakeTypesRaw(pad uint32) []byte {
	var all []btf.Type
	for typ, err := range FakeTypes(pad).All() {
		if err != nil {
			panic(err)
		}
		all = append(all, typ)
	}
	b, err := btf.NewBuilder(all, nil)
	if err != nil {
		panic(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		panic(err)
	}
	return raw
}
