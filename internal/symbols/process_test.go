package symbols

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// child is a running C test program and the addresses it printed.
type child struct {
	cmd                *exec.Cmd
	stdin              interface{ Close() error }
	exe, lib, vdsoFunc uint64
}

func startChild(t *testing.T, path string) *child {
	t.Helper()
	cmd := exec.Command(path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin}
	t.Cleanup(func() { c.exit() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("%s printed no addresses: %v", path, err)
	}
	var addrs []uint64
	for _, f := range strings.Fields(line) {
		a, err := strconv.ParseUint(f, 16, 64)
		if err != nil {
			t.Fatalf("%s printed %q: %v", path, line, err)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) != 3 {
		t.Fatalf("%s printed %q, want three addresses", path, line)
	}
	c.exe, c.lib, c.vdsoFunc = addrs[0], addrs[1], addrs[2]
	return c
}

// exit closes the child's input, which ends it, and reaps it.
func (c *child) exit() {
	c.stdin.Close()
	c.cmd.Wait()
}

func TestProcessLookup(t *testing.T) {
	b := buildC(t)
	for _, exe := range []string{b.pie, b.noPIE} {
		t.Run(filepath.Base(exe), func(t *testing.T) {
			c := startChild(t, exe)
			p := NewProcess(c.cmd.Process.Pid)
			if err := p.Load(); err != nil {
				t.Fatal(err)
			}
			want := []struct {
				addr uint64
				want Frame
			}{
				{c.exe, Frame{"exe_func", 0, exe}},
				{c.exe + 3, Frame{"exe_func", 3, exe}},
				{c.lib, Frame{"lib_func", 0, b.lib}},
				{c.lib + 1, Frame{"lib_func", 1, b.lib}},
			}
			check := func(when string) {
				t.Helper()
				for _, w := range want {
					if got, ok := p.Lookup(w.addr); !ok || got != w.want {
						t.Errorf("%s: Lookup(%#x) = %+v, %v; want %+v", when, w.addr, got, ok, w.want)
					}
				}
			}
			check("running")
			if c.vdsoFunc == 0 {
				t.Log("the dynamic linker did not report the vDSO; its lookup is not tested")
			} else if got, ok := p.Lookup(c.vdsoFunc); !ok || got.Name != "__vdso_clock_gettime" || got.Off != 0 || got.Module != "[vdso]" {
				t.Errorf("Lookup(vDSO clock_gettime %#x) = %+v, %v", c.vdsoFunc, got, ok)
			}

			// After the exit the loaded mappings still resolve, the files
			// now found by path; a resolver that never read them cannot.
			late := NewProcess(c.cmd.Process.Pid)
			c.exit()
			p.files = map[string]*Table{} // forget the files opened through /proc
			check("exited")
			if got, ok := late.Lookup(c.exe); ok {
				t.Errorf("a resolver created after the exit found %+v", got)
			}
		})
	}
}

// TestProcessZombie reads the mappings of a process that has exited but
// is not reaped, which shows none: the mappings read before stay.
func TestProcessZombie(t *testing.T) {
	b := buildC(t)
	c := startChild(t, b.pie)
	p := NewProcess(c.cmd.Process.Pid)
	if err := p.Load(); err != nil {
		t.Fatal(err)
	}
	c.stdin.Close()
	stat := fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if b, _ := os.ReadFile(stat); strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never exited")
		}
	}
	if err := p.Load(); err != nil {
		t.Fatal(err)
	}
	if got, ok := p.Lookup(c.exe); !ok || got.Name != "exe_func" || !p.MapsProgram() {
		t.Errorf("Lookup = %+v, %v after a read of the zombie; want exe_func, read while the process lived", got, ok)
	}
}

// TestProcessReplacedFile checks that the symbols of a file the process
// mapped still resolve after it exits and the file is replaced by another
// at the same path: they were read while the process lived.
func TestProcessReplacedFile(t *testing.T) {
	b := buildC(t)
	exe := filepath.Join(t.TempDir(), "exe")
	data, err := os.ReadFile(b.pie)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, exe)
	p := NewProcess(c.cmd.Process.Pid)
	if err := p.Load(); err != nil {
		t.Fatal(err)
	}
	c.exit()
	if err := os.WriteFile(exe+".new", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(exe+".new", exe); err != nil {
		t.Fatal(err)
	}
	if got, ok := p.Lookup(c.exe); !ok || got.Name != "exe_func" {
		t.Errorf("Lookup = %+v, %v after the file was replaced; want exe_func, read while the process lived", got, ok)
	}
}

func TestProcessPerfMap(t *testing.T) {
	b := buildC(t)
	c := startChild(t, b.pie)
	pid := c.cmd.Process.Pid
	path := fmt.Sprintf("/tmp/perf-%d.map", pid)
	// 0x10000 is below mmap_min_addr: no file is mapped there.
	if err := os.WriteFile(path, []byte("10000 40 LazyCompile:~old js\n0x10000 20 LazyCompile:~run app.js:3\nnot a line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	p := NewProcess(pid)
	want := Frame{"LazyCompile:~run app.js:3", 0x11, path}
	if got, ok := p.Lookup(0x10011); !ok || got != want {
		t.Errorf("Lookup(0x10011) = %+v, %v; want %+v", got, ok, want)
	}
	if got, ok := p.Lookup(0x10020); ok {
		t.Errorf("Lookup(0x10020) = %+v past the latest entry's size", got)
	}
}

func TestParseMapsLine(t *testing.T) {
	for _, c := range []struct {
		line string
		want Mapping
	}{
		{"55d0c7a4e000-55d0c7a50000 r-xp 00002000 fe:01 1234                       /usr/bin/cat",
			Mapping{Start: 0x55d0c7a4e000, End: 0x55d0c7a50000, Off: 0x2000, Inode: 1234, Exec: true, Path: "/usr/bin/cat"}},
		{"7f0000000000-7f0000001000 r-xp 00000000 00:2a 99   /tmp/a dir/my lib.so (deleted)",
			Mapping{Start: 0x7f0000000000, End: 0x7f0000001000, Inode: 99, Exec: true, Path: "/tmp/a dir/my lib.so (deleted)"}},
		{"7ffd1e3f2000-7ffd1e3f4000 r-xp 00000000 00:00 0                          [vdso]",
			Mapping{Start: 0x7ffd1e3f2000, End: 0x7ffd1e3f4000, Exec: true, Path: "[vdso]"}},
		{"7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 ",
			Mapping{Start: 0x7f1c2a000000, End: 0x7f1c2a021000}},
		{"1000-2000 ---p 00000000 00:00 0",
			Mapping{Start: 0x1000, End: 0x2000}},
	} {
		got, err := parseMapsLine(c.line)
		if err != nil || got != c.want {
			t.Errorf("parseMapsLine(%q) = %+v, %v; want %+v", c.line, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"",
		"1000 r-xp 00000000 00:00 0",
		"2000-1000 r-xp 00000000 00:00 0",
		"1000-2000 r-x 00000000 00:00 0",
		"1000-2000 r-xp zz 00:00 0",
		"1000-2000 r-xp 00000000 0000 0",
		"1000-2000 r-xp 00000000 00:00 -1",
		"1000-2000 r-xp 00000000 00:00",
	} {
		if m, err := parseMapsLine(bad); err == nil {
			t.Errorf("parseMapsLine(%q) = %+v, want an error", bad, m)
		}
	}
}

func FuzzParseMapsLine(f *testing.F) {
	f.Add("55d0c7a4e000-55d0c7a50000 r-xp 00002000 fe:01 1234                       /usr/bin/cat")
	f.Add("7f0000000000-7f0000001000 r-xp 00000000 00:2a 99   /tmp/a dir/my lib.so (deleted)")
	f.Add("7ffd1e3f2000-7ffd1e3f4000 r-xp 00000000 00:00 0                          [vdso]")
	f.Add("1000-2000 ---p 00000000 00:00 0")
	f.Add("ffffffffffffffff-0 ---- 0 : 0")
	f.Fuzz(func(t *testing.T, line string) {
		m, err := parseMapsLine(line)
		if err != nil {
			return
		}
		if m.Start >= m.End {
			t.Fatalf("%q: start %#x not below end %#x", line, m.Start, m.End)
		}
		// What parsed prints back to a line that parses the same.
		perms := "rw-p"
		if m.Exec {
			perms = "rwxp"
		}
		again := fmt.Sprintf("%x-%x %s %x 00:00 %d %s", m.Start, m.End, perms, m.Off, m.Inode, m.Path)
		if m2, err := parseMapsLine(again); err != nil || m2 != m {
			t.Fatalf("%q parsed to %+v; printed back as %q it parses to %+v, %v", line, m, again, m2, err)
		}
	})
}

func FuzzParsePerfMap(f *testing.F) {
	f.Add("10000 40 LazyCompile:~run app.js:3\n0x10000 20 x\n")
	f.Add("ffffffffffffffff 10 wraps\n")
	f.Add("\n \n1 0 empty\n")
	f.Fuzz(func(t *testing.T, text string) {
		tab := parsePerfMap(strings.NewReader(text))
		for _, s := range tab.Symbols() {
			if s.Name == "" {
				t.Fatalf("%q: a symbol without a name", text)
			}
			tab.Lookup(s.Addr)
			tab.Lookup(s.Addr + s.Size)
		}
	})
}
