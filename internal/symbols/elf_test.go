package symbols

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// libSource is a shared library linked at a non-zero base
// (-Ttext-segment), so its segments' virtual addresses differ from their
// file offsets and a lookup that ignores the difference fails. lib_addr
// returns lib_func's own address (-Bsymbolic binds it locally): a non-PIE
// executable taking &lib_func would get its own PLT stub instead.
const libSource = `
int lib_pad(int x) { return x * 7; }
int lib_func(int x) { return x + 2; }
void *lib_addr(void) { return (void *)&lib_func; }
`

// exeSource prints the run-time addresses of one of its own functions, of
// one in the library and of one in the vDSO (as the dynamic linker sees
// it), then waits for its standard input to close.
const exeSource = `
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
extern int lib_func(int);
extern void *lib_addr(void);
__attribute__((noinline)) int exe_pad(int x) { return x * 5; }
__attribute__((noinline)) int exe_func(int x) { return x * 3 + 1; }
int main(void) {
	char c;
	void *vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
	printf("%lx %lx %lx\n", (unsigned long)&exe_func, (unsigned long)lib_addr(),
	       (unsigned long)(vdso ? dlsym(vdso, "__vdso_clock_gettime") : 0));
	fflush(stdout);
	while (read(0, &c, 1) > 0) {}
	return exe_func(lib_func(exe_pad(1))) == 0;
}
`

// cBinaries are the test's C programs: the same source as a PIE and as a
// fixed-address executable, both linked with the library.
type cBinaries struct{ pie, noPIE, lib string }

func buildC(t *testing.T) cBinaries {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc to build the C test programs")
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	gcc := func(args ...string) {
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	b := cBinaries{
		lib:   filepath.Join(dir, "libtest.so"),
		pie:   filepath.Join(dir, "pie"),
		noPIE: filepath.Join(dir, "nopie"),
	}
	gcc("-O1", "-shared", "-fPIC", "-Wl,-Ttext-segment=0x200000", "-Wl,-Bsymbolic", "-o", b.lib, write("lib.c", libSource))
	main := write("main.c", exeSource)
	gcc("-O1", "-fPIE", "-pie", "-o", b.pie, main, b.lib, "-Wl,-rpath,"+dir)
	gcc("-O1", "-fno-pie", "-no-pie", "-o", b.noPIE, main, b.lib, "-Wl,-rpath,"+dir)
	return b
}

// nmFuncs returns the defined text symbols nm lists in path: an
// independent reading of the symbol table.
func nmFuncs(t *testing.T, path string, dynamic bool) map[string]uint64 {
	t.Helper()
	args := []string{"--defined-only", path}
	if dynamic {
		args = append([]string{"-D"}, args...)
	}
	out, err := exec.Command("nm", args...).Output()
	if errors.Is(err, exec.ErrNotFound) {
		t.Skipf("needs nm (binutils): %v", err)
	}
	if err != nil {
		t.Fatalf("nm %s: %v", strings.Join(args, " "), err)
	}
	funcs := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || !strings.ContainsAny(f[1], "Tt") {
			continue
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			t.Fatalf("nm line %q: %v", sc.Text(), err)
		}
		funcs[f[2]] = addr
	}
	return funcs
}

func TestELFC(t *testing.T) {
	b := buildC(t)
	for _, c := range []struct {
		path    string
		dynamic bool // the names are in .dynsym
		names   []string
	}{
		{b.pie, false, []string{"exe_func", "exe_pad", "main"}},
		{b.noPIE, false, []string{"exe_func", "exe_pad", "main"}},
		{b.lib, true, []string{"lib_func", "lib_pad"}},
	} {
		tab, err := ELF(c.path)
		if err != nil {
			t.Fatal(err)
		}
		nm := nmFuncs(t, c.path, c.dynamic)
		for _, name := range c.names {
			s, ok := addressOf(tab, name)
			if !ok || s.Addr != nm[name] || s.Size == 0 {
				t.Errorf("%s: Address(%s) = %+v, %v; nm says %#x", filepath.Base(c.path), name, s, ok, nm[name])
				continue
			}
			if got, ok := tab.Lookup(s.Addr + s.Size - 1); !ok || got.Name != name {
				t.Errorf("%s: Lookup of %s's last byte = %+v, %v", filepath.Base(c.path), name, got, ok)
			}
		}
	}
}

func TestELFGo(t *testing.T) {
	bin := testutil.Workload(t)
	tab, err := ELF(bin)
	if err != nil {
		t.Fatal(err)
	}
	nm := nmFuncs(t, bin, false)
	names := []string{"main.main", "main.run", "runtime.main", "runtime.goexit.abi0"}
	for _, name := range names {
		s, ok := addressOf(tab, name)
		if !ok || s.Addr != nm[name] || s.Size == 0 {
			t.Errorf("Address(%s) = %+v, %v; nm says %#x", name, s, ok, nm[name])
		}
	}
	if again, err := ELF(bin); err != nil || again != tab {
		t.Errorf("a second ELF(%s) built a new table (%v)", bin, err)
	}

	// A stripped copy has no .symtab: its functions come from .gopclntab,
	// at the same addresses with the same sizes.
	stripped := filepath.Join(t.TempDir(), "workload-stripped")
	if out, err := exec.Command("strip", "-o", stripped, bin).CombinedOutput(); errors.Is(err, exec.ErrNotFound) {
		t.Skipf("needs strip (binutils): %v", err)
	} else if err != nil {
		t.Fatalf("strip: %v\n%s", err, out)
	}
	if f, err := elf.Open(stripped); err != nil {
		t.Fatal(err)
	} else {
		if f.Section(".symtab") != nil {
			t.Fatal("strip left .symtab in place")
		}
		f.Close()
	}
	st, err := ELF(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Symbols()); n < 1000 {
		t.Errorf("the stripped binary has %d functions; its pclntab has thousands", n)
	}
	for _, got := range st.Symbols() {
		want, ok := tab.Lookup(got.Addr)
		// The pclntab names an assembly function without its ".abi0", keeps
		// the "·" the symbol table writes as ".", and counts the padding
		// after a function as part of it.
		name := strings.ReplaceAll(got.Name, "·", ".")
		if !ok || want.Addr != got.Addr || strings.TrimSuffix(want.Name, ".abi0") != name || got.Size < want.Size {
			t.Errorf("stripped: %+v; the symbol table has %+v, %v", got, want, ok)
		}
	}
	if s, ok := addressOf(st, "main.main"); !ok || s.Addr != nm["main.main"] {
		t.Errorf("stripped: Address(main.main) = %+v, %v; nm says %#x", s, ok, nm["main.main"])
	}
}

func TestELFErrors(t *testing.T) {
	if _, err := ELF(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
	notELF := filepath.Join(t.TempDir(), "text")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ELF(notELF); err == nil {
		t.Error("a shell script parsed as ELF")
	}
}

func FuzzReadELF(f *testing.F) {
	if image, err := vdsoImage(); err == nil {
		f.Add(image)
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, image []byte) {
		tab, err := readELF(bytes.NewReader(image))
		if err != nil {
			return
		}
		for _, s := range tab.Symbols() {
			if got, ok := tab.Lookup(s.Addr); !ok || got.Addr != s.Addr {
				t.Fatalf("Lookup(%#x) = %+v, %v; want a symbol at that address", s.Addr, got, ok)
			}
		}
	})
}
