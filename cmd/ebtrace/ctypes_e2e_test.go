package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/corerelo"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestCurtaskParent follows pointers through kernel structs: the
// workload's parent is the ebtrace process that started it.
func TestCurtaskParent(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	wl := testutil.Workload(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	cmd := exec.Command(bin, "-q", "-e",
		`tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
			printf("%d %s %s %d\n", curtask->real_parent->tgid, curtask->real_parent->comm, curtask->comm, curtask->tgid == pid && curtask->pid == tid);
			exit();
		}`, "-c", wl+" getppid 1")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	want := fmt.Sprintf("%d %s %s 1\n", cmd.Process.Pid, commOf(bin), commOf(wl))
	if first, _, _ := strings.Cut(out.String(), "\n"); first+"\n" != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestScriptStructs reads a C program's struct through the script's own
// definition of it, #included from the header the program was built
// with: bitfields, arrays, a nested struct, an anonymous union, a pointer
// to follow, sizeof and offsetof must all agree with gcc's layout.
func TestScriptStructs(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/record.c", "-O1")
	script := `#include "testdata/record.h"
uprobe:` + bin + `:visit {
	$r = (struct record *)arg0;
	printf("%s ready=%d level=%d code=%d v=%d,%d,%d,%d id=%d total=%ld\n",
		$r->tag, $r->ready, $r->level, $r->code, $r->values[0], $r->values[1], $r->values[2], $r->values[3],
		$r->in.id, $r->in.total);
	printf("next=%s/%ld flag=%d word=%x b0=%x tag1=%c size=%d off=%d\n",
		$r->next->tag, $r->next->in.total, $r->flag, $r->u.word, $r->u.bytes[0], $r->tag[1],
		sizeof(struct record), offsetof(struct record, next));
}`
	r := runCLI(t, "-q", "-e", script, "-c", bin+" 3")
	r.want(t, 0, `rec0 ready=1 level=5 code=300 v=0,1,2,3 id=0 total=1099511627776
next=last/-5 flag=200 word=11223344 b0=44 tag1=e size=64 off=48
rec1 ready=1 level=5 code=301 v=10,11,12,13 id=-1 total=1099511627777
next=last/-5 flag=200 word=11223344 b0=44 tag1=e size=64 off=48
rec2 ready=1 level=5 code=302 v=20,21,22,23 id=-2 total=1099511627778
next=last/-5 flag=200 word=11223344 b0=44 tag1=e size=64 off=48


`)
}

// TestNestedStructs reads a C program's struct through the script's own
// definition of it, which defines types inside it (testdata/nested.h,
// written into the script): members of a nested struct, union and
// anonymous struct, an anonymous union's member, a pointer to a type
// defined only by its tag, and a nested type cast to by its name.
func TestNestedStructs(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/nested.c")
	header, err := os.ReadFile("testdata/nested.h")
	if err != nil {
		t.Fatal(err)
	}
	script := string(header) + `
uprobe:` + bin + `:visit {
	$o = (struct outer *)arg0;
	$e = (struct inner *)arg1;
	printf("%s id=%d word=%x b0=%x k=%c m=%ld i=%d where=%d,%d flag=%d\n",
		$o->tag, $o->in.id, $o->in.u.word, $o->in.u.b[0], $o->in.deep.k, $o->in.deep.m, $o->i,
		$o->where->x, $o->where->y, $o->flag);
	printf("extra id=%d k=%c m=%ld sizes %d %d %d off %d\n", $e->id, $e->deep.k, $e->deep.m,
		sizeof(struct outer), sizeof(struct inner), sizeof(struct point), offsetof(struct outer, in.deep.m));
}`
	r := runCLI(t, "-q", "-e", script, "-c", bin+" 2")
	r.want(t, 0, `out0 id=0 word=11223344 b0=44 k=k m=1099511627776 i=1000 where=3,-4 flag=200
extra id=77 k=z m=-1 sizes 56 24 8 off 24
out1 id=-1 word=11223344 b0=44 k=k m=1099511627777 i=1001 where=3,-4 flag=200
extra id=77 k=z m=-1 sizes 56 24 8 off 24


`)
}

// TestCORERelocations checks that -d asm marks the relocated instructions
// and -d core resolves them to the running kernel's offsets.
func TestCORERelocations(t *testing.T) {
	spec, err := btf.LoadKernelSpec()
	testutil.SkipUnsupported(t, err)
	script := `tracepoint:syscalls:sys_enter_getppid { printf("%d\n", curtask->real_parent->tgid); }`
	r := runCLI(t, "-d", "asm", "-e", script)
	for _, want := range []string{"[CO-RE: byte offset struct task_struct.real_parent]", "[CO-RE: byte size struct task_struct.tgid]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("-d asm lacks %q:\n%s", want, r.stdout)
		}
	}
	offset := func(member string) int {
		root, err := corerelo.FindType(spec, "struct task_struct")
		if err != nil {
			t.Fatal(err)
		}
		f, err := corerelo.FindField(root, []string{member})
		if err != nil {
			t.Fatal(err)
		}
		return f.BitOffset / 8
	}
	r = runCLI(t, "-d", "core", "-e", script)
	var got []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if _, rest, ok := strings.Cut(l, ": "); ok && strings.HasPrefix(l, "    insn ") {
			got = append(got, rest)
		}
	}
	want := []string{
		fmt.Sprintf("byte offset struct task_struct.real_parent = %d (compiled %[1]d)", offset("real_parent")),
		"byte size struct task_struct.real_parent = 8 (compiled 8)",
		fmt.Sprintf("byte offset struct task_struct.tgid = %d (compiled %[1]d)", offset("tgid")),
		"byte size struct task_struct.tgid = 4 (compiled 4)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("-d core:\n%s\nwant:\n%s", r.stdout, strings.Join(want, "\n"))
	}
}

// TestIntegerCasts truncates and extends as C does, and 64-bit
// arithmetic wraps.
func TestIntegerCasts(t *testing.T) {
	r := runCLI(t, "-q", "-e", `BEGIN {
		printf("%d %d %d %d %u %d\n", (uint8)257, (int8)255, (uint16)-1, (int16)0x18000, (uint32)-1, (int32)0x80000000);
		printf("%d %d %d %d %u %d\n", (bool)5, (bool)0, true, false, 0xffffffffffffffff + 2, (int64)0xffffffffffffffff);
		$p = (int32 *)0x1000;
		printf("%d %d\n", $p + 2, (uint64)($p - 1));
		exit();
	}`)
	r.want(t, 0, "1 -1 65535 -32768 4294967295 -2147483648\n1 0 1 0 1 -1\n4104 4092\n\n\n")
}

// TestCOREForAnotherKernel compiles against this kernel and resolves the
// same program's relocations against another kernel's BTF, a raw BTF
// file holding kerneltest.FakeTypes' small task_struct.
func TestCOREForAnotherKernel(t *testing.T) {
	_, err := btf.LoadKernelSpec()
	testutil.SkipUnsupported(t, err)
	raw := kerneltest.FakeTypesRaw(8)
	file := filepath.Join(t.TempDir(), "other.btf")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "-d", "core", "--btf", file, "-e", `tracepoint:syscalls:sys_enter_getppid { printf("%d\n", curtask->real_parent->tgid); }`)
	var got []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if _, rest, ok := strings.Cut(l, ": "); ok && strings.HasPrefix(l, "    insn ") {
			got = append(got, rest[:strings.Index(rest, " (compiled")])
		}
	}
	want := "byte offset struct task_struct.real_parent = 32\nbyte size struct task_struct.real_parent = 8\n" +
		"byte offset struct task_struct.tgid = 4\nbyte size struct task_struct.tgid = 4"
	if strings.Join(got, "\n") != want {
		t.Errorf("-d core --btf:\n%s%s\nwant:\n%s", r.stdout, r.stderr, want)
	}
	r = runCLI(t, "--btf", file, "-e", `BEGIN { exit(); }`)
	if r.code != 1 || !strings.Contains(r.stderr, "--btf FILE goes with -d core") {
		t.Errorf("--btf without -d core: status %d, %s", r.code, r.stderr)
	}
}
