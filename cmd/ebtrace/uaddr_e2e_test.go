package main

import (
	"debug/elf"
	"fmt"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// symbolValue reads symbol name's address from the ELF file at path.
func symbolValue(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s has no symbol %s", path, name)
	return 0
}

// In a position-dependent executable, uaddr() is the symbol table's
// address: str() reads the string there.
func TestUaddr(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/uaddr.c", "-no-pie", "-fno-pie")
	r := runCLI(t, "-e", `uprobe:`+bin+`:tick { printf("%s %x\n", str(uaddr("greeting")), uaddr("counter")); }`, "-c", bin+" 2")
	line := fmt.Sprintf("hello uaddr %x\n", symbolValue(t, bin, "counter"))
	r.want(t, 0, line+line+"\n\n")
}

// A PIE moves each run: uaddr() needs -p, and then follows the process's
// mappings.
func TestUaddrPIE(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/uaddr.c", "-pie", "-fpie")
	r := runCLI(t, "-e", `uprobe:`+bin+`:tick { printf("%s\n", str(uaddr("greeting"))); }`)
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, `error: uaddr("greeting"): `+bin+` is position-independent`) || !strings.Contains(r.stderr, "hint: trace one running process with -p PID") {
		t.Errorf("stderr:\n%s", r.stderr)
	}

	traced := testutil.StartGated(t, bin, "3", "wait")
	r = traceGated(t, traced, `uprobe:`+bin+`:tick { printf("%s\n", str(uaddr("greeting"))); }`, func() {})
	r.want(t, 0, "hello uaddr\nhello uaddr\nhello uaddr\n\n\n")
}

func TestUaddrErrors(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/uaddr.c", "-no-pie", "-fno-pie")
	r := runCLI(t, "-e", `uprobe:`+bin+`:tick { @ = uaddr("countr"); }`)
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, `error: uaddr("countr"): `+bin+` defines no symbol countr`) || !strings.Contains(r.stderr, "hint: did you mean counter?") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	r = runCLI(t, "-e", `BEGIN { @ = uaddr("counter"); }`)
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "error: uaddr() needs a probe on a user-space binary, not BEGIN") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}
