package uprobe

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/arch"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/types"
)

func TestLibraryMatches(t *testing.T) {
	for _, c := range []struct {
		name, soname string
		want         bool
	}{
		{"libc", "libc.so.6", true},
		{"c", "libc.so.6", true},
		{"libc.so.6", "libc.so.6", true},
		{"libc.so", "libc.so.6", true},
		{"libc", "libcap.so.2", false},
		{"libc", "libc-2.36.so", false},
		{"m", "libm.so.6", true},
		{"libm", "libmount.so.1", false},
		{"libz3", "libz3.so", true},
	} {
		if got := libraryMatches(c.name, c.soname); got != c.want {
			t.Errorf("libraryMatches(%q, %q) = %v", c.name, c.soname, got)
		}
	}
}

// ldCacheBytes builds a new-format cache holding entries, with some old
// format bytes in front as glibc before 2.32 wrote.
func ldCacheBytes(entries ...libraryEntry) []byte {
	var strs bytes.Buffer
	header, entrySize := 48, 24
	strBase := header + entrySize*len(entries)
	var table bytes.Buffer
	for _, e := range entries {
		rec := make([]byte, entrySize)
		binary.LittleEndian.PutUint32(rec[0:], 0x0303)
		binary.LittleEndian.PutUint32(rec[4:], uint32(strBase+strs.Len()))
		strs.WriteString(e.Soname + "\x00")
		binary.LittleEndian.PutUint32(rec[8:], uint32(strBase+strs.Len()))
		strs.WriteString(e.Path + "\x00")
		table.Write(rec)
	}
	h := make([]byte, header)
	copy(h, ldCacheMagic)
	binary.LittleEndian.PutUint32(h[20:], uint32(len(entries)))
	binary.LittleEndian.PutUint32(h[24:], uint32(strs.Len()))
	h[28] = 2
	out := append([]byte("ld.so-1.7.0\x00\x00\x00\x00\x00"), h...)
	out = append(out, table.Bytes()...)
	return append(out, strs.Bytes()...)
}

func TestParseLDCache(t *testing.T) {
	want := []libraryEntry{{"libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"}, {"libm.so.6", "/lib/libm.so.6"}}
	got, ok := parseLDCache(ldCacheBytes(want...))
	if !ok || !slices.Equal(got, want) {
		t.Errorf("parseLDCache = %v, %v; want %v", got, ok, want)
	}
	data := ldCacheBytes(want...)
	for _, bad := range [][]byte{nil, []byte("garbage"), data[:40], data[:len(data)-3]} {
		if got, ok := parseLDCache(bad); ok {
			t.Errorf("parseLDCache(%q) = %v, want not ok", bad, got)
		}
	}
	out := "591 libs found in cache `/etc/ld.so.cache'\n\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6\n"
	if got := parseLDConfig(out); !slices.Equal(got, want[:1]) {
		t.Errorf("parseLDConfig = %v", got)
	}
}

// The running system's cache parses and agrees with ldconfig -p.
func TestSystemLDCache(t *testing.T) {
	data, err := os.ReadFile("/etc/ld.so.cache")
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no linker cache: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	entries, ok := parseLDCache(data)
	if !ok || len(entries) == 0 {
		t.Fatalf("parseLDCache of /etc/ld.so.cache: %d entries, ok %v", len(entries), ok)
	}
	out, err := exec.Command("ldconfig", "-p").Output()
	if errors.Is(err, exec.ErrNotFound) {
		t.Skipf("needs ldconfig: %v", err)
	}
	if err != nil {
		t.Fatalf("ldconfig -p: %v", err)
	}
	if want := parseLDConfig(string(out)); !slices.Equal(entries, want) {
		t.Errorf("cache has %d entries, ldconfig -p %d; first %v vs %v", len(entries), len(want), entries[0], want[0])
	}
}

func FuzzParseLDCache(f *testing.F) {
	f.Add(ldCacheBytes(libraryEntry{"libc.so.6", "/lib/libc.so.6"}))
	f.Add([]byte(ldCacheMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, ok := parseLDCache(data)
		if !ok && entries != nil {
			t.Errorf("entries %v without ok", entries)
		}
	})
}

func TestOpenLibraryNames(t *testing.T) {
	libc, err := Open("libc", 0)
	if _, cacheErr := os.Stat("/etc/ld.so.cache"); err != nil && errors.Is(cacheErr, os.ErrNotExist) {
		t.Skipf("no glibc dynamic linker cache on this system, and no libc found: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer libc.Close()
	if filepath.Base(libc.Path) != "libc.so.6" || !filepath.IsAbs(libc.Path) {
		t.Errorf("libc resolved to %s", libc.Path)
	}
	for _, name := range []string{"c", "libc.so.6", "libc.so"} {
		b, err := Open(name, 0)
		if err != nil {
			t.Errorf("Open(%q): %v", name, err)
			continue
		}
		if b.Path != libc.Path {
			t.Errorf("Open(%q) = %s, want %s", name, b.Path, libc.Path)
		}
		b.Close()
	}
	// A command in $PATH.
	if sh, err := exec.LookPath("sh"); err == nil {
		b, err := Open("sh", 0)
		if err != nil || b.Path != sh {
			t.Errorf("Open(sh) = %v, %v; want %s", b, err, sh)
		} else {
			b.Close()
		}
	}
	// With a PID, the process's own mappings come first.
	b, err := Open("libc", os.Getpid())
	if err == nil {
		b.Close()
		if filepath.Base(b.Path) != "libc.so.6" {
			t.Errorf("libc of this process resolved to %s", b.Path)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "script.sh")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	for _, c := range []struct{ name, msg, hint string }{
		{"/nonexistent/ebtrace-bin", "binary /nonexistent/ebtrace-bin does not exist", ""},
		{notELF, "is not an ELF executable or library", ""},
		{"libcc", "neither a command in $PATH nor a library", "did you mean"},
		{"", "the binary is missing", "/bin/bash, bash or libc"},
	} {
		_, err := Open(c.name, 0)
		var pe *probe.Error
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, c.msg) || !strings.Contains(strings.Join(pe.Hints, "\n"), c.hint) {
			t.Errorf("Open(%q) = %v; want *probe.Error containing %q, hint %q", c.name, err, c.msg, c.hint)
		}
	}
	if _, err := os.Stat("/bin/sh"); err == nil {
		_, err := Open("/bin/shx", 0)
		var pe *probe.Error
		if !errors.As(err, &pe) || !slices.Contains(pe.Hints, "did you mean /bin/sh?") {
			t.Errorf("Open(/bin/shx) = %v, want a hint naming /bin/sh", err)
		}
	}
}

// symbolOf returns the address and size of a function in the binary at path.
func symbolOf(t *testing.T, path, name string) Symbol {
	t.Helper()
	b, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fns, err := b.Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range fns {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("%s has no function %s", path, name)
	return Symbol{}
}

// secondInstruction returns the offset of add's second instruction, from
// objdump's disassembly.
func secondInstruction(t *testing.T, bin string) uint64 {
	t.Helper()
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("needs objdump (binutils) to find an instruction boundary")
	}
	out, err := exec.Command(objdump, "-d", "--disassemble=add", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	add := symbolOf(t, bin, "add")
	var addrs []uint64
	for line := range strings.Lines(string(out)) {
		var a uint64
		if n, _ := fmt.Sscanf(strings.TrimSpace(line), "%x:", &a); n == 1 && a >= add.Addr && a < add.Addr+add.Size {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) < 2 {
		t.Fatalf("add has fewer than two instructions:\n%s", out)
	}
	return addrs[1] - add.Addr
}

func hostRegs(t *testing.T) *arch.Regs {
	t.Helper()
	regs, err := arch.Host()
	if err != nil {
		t.Skip(err)
	}
	return regs
}

func names(insts []probe.Instance) []string {
	var out []string
	for _, in := range insts {
		out = append(out, in.Name())
	}
	return out
}

func TestExpand(t *testing.T) {
	regs := hostRegs(t)
	bin := testutil.BuildC(t, "testdata/target.c", "-O2")
	add := symbolOf(t, bin, "add")
	env := &probe.Env{}

	insts, err := Uprobe.Expand(bin+":add", env)
	if err != nil || len(insts) != 1 {
		t.Fatalf("Expand(add) = %v, %v", insts, err)
	}
	in := insts[0].(*instance)
	if in.Name() != "uprobe:"+bin+":add" || in.fn != "add" || in.path != bin {
		t.Errorf("instance %+v", in)
	}
	if in.Program().Type.String() != "Kprobe" {
		t.Errorf("program type %v", in.Program().Type)
	}
	if a, ok := in.Builtin("arg1"); !ok || a.Offset != regs.Args[1] || a.Type != Word {
		t.Errorf("arg1 = %+v, %v", a, ok)
	}
	if a, ok := in.Builtin("func"); !ok || a.Text != "add" || a.Type != types.String(4) {
		t.Errorf("func = %+v, %v", a, ok)
	}
	if _, ok := in.Builtin("retval"); ok {
		t.Error("uprobe has retval")
	}
	if _, ok := in.Builtin(fmt.Sprintf("arg%d", len(regs.Args))); ok {
		t.Errorf("%s is on the stack but was given", fmt.Sprintf("arg%d", len(regs.Args)))
	}
	var pe *probe.Error
	if _, err := in.Arg("a"); !errors.As(err, &pe) {
		t.Errorf("args.a: %v", err)
	}

	ret, err := Uretprobe.Expand(bin+":add", env)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := ret[0].Builtin("retval"); !ok || a.Offset != regs.Ret {
		t.Errorf("retval = %+v, %v", a, ok)
	}
	if _, ok := ret[0].Builtin("arg0"); ok {
		t.Error("uretprobe has arg0")
	}

	// The address and the function name agree on the file offset.
	at, err := Uprobe.Expand(bin+":"+fmt.Sprintf("%#x", add.Addr), env)
	if err != nil {
		t.Fatal(err)
	}
	if got := at[0].(*instance); got.offset != in.offset || got.fn != "add" || got.Name() != "uprobe:"+bin+":"+fmt.Sprintf("%#x", add.Addr) {
		t.Errorf("address instance %+v, want offset %d", got, in.offset)
	}
	off, err := Uprobe.Expand(bin+":add+1", env)
	if err != nil {
		t.Fatal(err)
	}
	if got := off[0].(*instance); got.offset != in.offset+1 || got.fn != "add" || got.Name() != "uprobe:"+bin+":add+1" {
		t.Errorf("offset instance %+v", got)
	}

	wild, err := Uprobe.Expand(bin+":a?d", env)
	if err != nil || !slices.Equal(names(wild), []string{"uprobe:" + bin + ":add"}) {
		t.Errorf("a?d expands to %v, %v", names(wild), err)
	}
	wild, err = Uprobe.Expand(bin+":*", env)
	if err != nil || !slices.Contains(names(wild), "uprobe:"+bin+":main") || len(wild) < 2 {
		t.Errorf("* expands to %v, %v", names(wild), err)
	}
}

func TestExpandErrors(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/target.c", "-O2")
	add := symbolOf(t, bin, "add")
	for _, c := range []struct {
		p         Provider
		spec      string
		msg, hint string
	}{
		{Uprobe, bin + ":ad", `function "ad" does not exist in ` + bin, "did you mean add?"},
		{Uprobe, bin + ":nomatch*", "no function of " + bin + ` matches "nomatch*"`, "ebtrace -l 'uprobe:" + bin + ":*'"},
		{Uprobe, bin, "must be PATH:FUNCTION", "uprobe:libc:malloc"},
		{Uprobe, ":add", "must be PATH:FUNCTION", ""},
		{Uprobe, bin + ":add+x", `"x" in uprobe:` + bin + ":add+x is not an offset", ""},
		{Uprobe, bin + ":add+4096", "offset 4096 is past the end of add", ""},
		{Uprobe, bin + ":0x1", "address 0x1 is not in an executable part", ""},
		{Uretprobe, bin + ":add+1", "a uretprobe must be placed at a function's first instruction", ""},
		{Uretprobe, bin + ":" + fmt.Sprintf("%#x", add.Addr+1), "no function of " + bin + " starts there", ""},
		{Uprobe, "/nonexistent/bin:add", "does not exist", ""},
	} {
		_, err := c.p.Expand(c.spec, &probe.Env{})
		var pe *probe.Error
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, c.msg) || !strings.Contains(strings.Join(pe.Hints, "\n"), c.hint) {
			t.Errorf("%s:%s: %v (hints %v); want %q, hint %q", c.p.names[0], c.spec, err, hintsOf(err), c.msg, c.hint)
		}
	}
	// A uretprobe at a function's address is fine.
	if _, err := Uretprobe.Expand(bin+":"+fmt.Sprintf("%#x", add.Addr), &probe.Env{}); err != nil {
		t.Error(err)
	}
}

func hintsOf(err error) []string {
	var pe *probe.Error
	if errors.As(err, &pe) {
		return pe.Hints
	}
	return nil
}

// With -p, a lone function names one of the process's executable.
// A spec that is exactly a function's name names that function, even
// when it holds wildcard characters; otherwise it is a pattern.
func TestExpandNamesWithWildcards(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/brackets.c")
	for _, c := range []struct{ spec, want string }{
		{"Sum[int]", "Sum[int]"},
		{"cpp:Sum[int]", "Sum[int]"},
		{`Sum\[*`, "Sum[int] Sum[long]"},
		{"Sum[[]*", "Sum[int] Sum[long]"},
		{"star*", "star*"},
		{"star[!*]*", "starry"},
	} {
		insts, err := Uprobe.Expand(bin+":"+c.spec, &probe.Env{})
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		var got []string
		for _, n := range names(insts) {
			got = append(got, strings.TrimPrefix(n, "uprobe:"+bin+":"))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s expands to %q, want %s", c.spec, got, c.want)
		}
	}
	for _, spec := range []string{"Sum[", "cpp:Sum["} {
		_, err := Uprobe.Expand(bin+":"+spec, &probe.Env{})
		var pe *probe.Error
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "bad wildcard pattern Sum[: its [ at byte 3 has no closing ]") {
			t.Errorf("%s: %v, want a bad wildcard pattern", spec, err)
		}
	}
}

func TestExpandPIDOnly(t *testing.T) {
	wl := testutil.Workload(t)
	cmd := exec.Command(wl, "sleep", "10000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	var insts []probe.Instance
	var err error
	// Until exec completes, /proc/PID/exe is the test binary.
	for range 100 {
		insts, err = Uprobe.Expand("main.target", &probe.Env{PID: pid})
		if err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if in := insts[0].(*instance); in.pid != pid || in.Name() != "uprobe:"+wl+":main.target" {
		t.Errorf("instance %+v", in)
	}
}

func TestProbes(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/target.c", "-O2")
	list, err := Uprobe.Probes(bin+":*", &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range list {
		got = append(got, l.Name)
	}
	for _, want := range []string{"uprobe:" + bin + ":add", "uprobe:" + bin + ":main"} {
		if !slices.Contains(got, want) {
			t.Errorf("listing lacks %s: %v", want, got)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("listing is not sorted: %v", got)
	}
	reg := probe.NewRegistry(Uprobe, Uretprobe)
	var out strings.Builder
	if err := reg.List(&probe.Env{}, "ur:"+bin+":ad*", true, &out); err != nil || out.String() != "uretprobe:"+bin+":add\n" {
		t.Errorf("List = %q, %v", out.String(), err)
	}
	if list, err := Uprobe.Probes("*", &probe.Env{}); err != nil || list != nil {
		t.Errorf("Probes(*) = %v, %v; want nothing: no binary is named", list, err)
	}
}

func TestFunctionsOfGo(t *testing.T) {
	wl := testutil.Workload(t)
	target := symbolOf(t, wl, "main.target")
	if target.Size == 0 {
		t.Errorf("main.target has no size")
	}
	f, err := elf.Open(wl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if runtime.GOARCH == "amd64" && f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v", f.Machine)
	}
}

func FuzzExpand(f *testing.F) {
	bin := testutil.BuildC(f, "testdata/target.c", "-O2")
	for _, s := range []string{"add", "add+1", "0x1000", "a*", "add+0x", "+", "*+1", "main+99999999999999999999", "cpp:*", "cpp:", "c++:ma?n+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		for _, p := range []Provider{Uprobe, Uretprobe} {
			insts, err := p.Expand(bin+":"+target, &probe.Env{})
			var pe *probe.Error
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("%s: %v is not a *probe.Error", target, err)
			}
			for _, in := range insts {
				if in.(*instance).offset == 0 {
					t.Errorf("%s: %s at file offset 0", target, in.Name())
				}
			}
		}
	})
}
