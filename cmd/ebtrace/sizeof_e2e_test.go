package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// builtinIntegers are the integer names ebtrace knows without BTF;
// kernelIntegers are typedefs it takes from the kernel's BTF, as C
// headers name them.
var (
	builtinIntegers = []string{
		"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
		"s8", "s16", "s32", "s64", "u8", "u16", "u32", "u64", "bool",
		"char", "signed char", "unsigned char", "short", "short int", "unsigned short", "unsigned short int",
		"int", "signed", "signed int", "unsigned", "unsigned int",
		"long", "long int", "unsigned long", "unsigned long int",
		"long long", "long long int", "unsigned long long", "unsigned long long int",
	}
	kernelIntegers = []string{
		"int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
		"__s8", "__s16", "__s32", "__s64", "__u8", "__u16", "__u32", "__u64",
		"size_t", "ssize_t", "pid_t", "uid_t", "gid_t", "off_t", "loff_t", "uintptr_t", "ptrdiff_t",
	}
)

// cSpelling is how gcc spells a name ebtrace knows without BTF:
// bpftrace's own names are fixed-width integers.
func cSpelling(name string) string {
	switch {
	case strings.HasPrefix(name, "int") && name != "int", strings.HasPrefix(name, "uint"):
		return name + "_t"
	case len(name) <= 3 && (name[0] == 's' || name[0] == 'u'):
		return "__" + name
	}
	return name
}

// TestSizeofIntegerNames prints sizeof of every integer type name ebtrace
// accepts and compares with what gcc says for the same names. Typedefs
// come from the kernel's BTF: those it lacks must be an error at the name,
// never a silent 0.
func TestSizeofIntegerNames(t *testing.T) {
	testutil.RequireRoot(t)
	kernel, err := btf.LoadKernelSpec()
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("no kernel BTF: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	spelled := map[string]string{} // ebtrace's name: gcc's
	names := slices.Clone(builtinIntegers)
	for _, name := range names {
		spelled[name] = cSpelling(name)
	}
	for _, name := range kernelIntegers {
		var td *btf.Typedef
		if err := kernel.TypeByName(name, &td); err == nil {
			names = append(names, name)
			spelled[name] = name
		} else {
			t.Logf("the kernel's BTF has no typedef %s", name)
		}
	}
	var c, script strings.Builder
	c.WriteString("#include <stdbool.h>\n#include <stdint.h>\n#include <stddef.h>\n#include <sys/types.h>\n#include <linux/types.h>\n#include <stdio.h>\nint main(void) {\n")
	script.WriteString("BEGIN {\n")
	for _, name := range names {
		fmt.Fprintf(&c, "\tprintf(\"%s %%zu\\n\", sizeof(%s));\n", name, spelled[name])
		fmt.Fprintf(&script, "\tprintf(\"%s %%d\\n\", sizeof(%s));\n", name, name)
	}
	c.WriteString("\treturn 0;\n}\n")
	script.WriteString("\texit();\n}\n")
	src := filepath.Join(t.TempDir(), "sizes.c")
	if err := os.WriteFile(src, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := exec.Command(testutil.BuildC(t, src)).Output()
	if err != nil {
		t.Fatal(err)
	}
	runCLI(t, "-q", "-e", script.String()).want(t, 0, string(want)+"\n\n")

	r := runCLI(t, "-q", "-e", "BEGIN { print(sizeof(nosuch_t)); exit(); }")
	if r.code != 1 || !strings.Contains(r.stderr, `stdin:1:22: error: unknown identifier "nosuch_t"`) {
		t.Errorf("sizeof of an unknown name: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
