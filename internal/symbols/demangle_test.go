package symbols

import (
	"bufio"
	"bytes"
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

func TestDemangle(t *testing.T) {
	for _, c := range []struct{ name, full, noParams string }{
		{"_ZN2ns3addEii", "ns::add(int, int)", "ns::add"},
		{"_ZNK5Shape4areaEv", "Shape::area() const", "Shape::area"},
		{"_ZN5ShapeC2Eii", "Shape::Shape(int, int)", "Shape::Shape"},
		{"_Z3maxIiET_S0_S0_", "int max<int>(int, int)", "max<int>"},
		{"_ZN2ns3addEii.constprop.0", "ns::add(int, int) [clone .constprop.0]", "ns::add"},
		{"_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector<int, std::allocator<int> >::push_back(int const&)", "std::vector<int, std::allocator<int> >::push_back"},
		{"_ZN12_GLOBAL__N_13fooEv", "(anonymous namespace)::foo()", "(anonymous namespace)::foo"},
		{"_ZZ4mainENKUlvE_clEv", "main::{lambda()#1}::operator()() const", "main::{lambda()#1}::operator()"},
		// Not mangled, or not demangleable: unchanged.
		{"main", "main", "main"},
		{"main.main", "main.main", "main.main"},
		{"runtime.goexit.abi0", "runtime.goexit.abi0", "runtime.goexit.abi0"},
		{"vfs_read", "vfs_read", "vfs_read"},
		{"_Zbogus", "_Zbogus", "_Zbogus"},
		{"_Z", "_Z", "_Z"},
		{"Z3fooi", "Z3fooi", "Z3fooi"},
	} {
		if got := Demangle(c.name); got != c.full {
			t.Errorf("Demangle(%q) = %q, want %q", c.name, got, c.full)
		}
		if got := DemangleNoParams(c.name); got != c.noParams {
			t.Errorf("DemangleNoParams(%q) = %q, want %q", c.name, got, c.noParams)
		}
	}
}

// Lookup shows C++ names demangled, also when asked concurrently, while
// Address and Symbols keep the names the table was built from.
func TestTableLookupDemangles(t *testing.T) {
	tab := newTable([]candidate{
		{Symbol: Symbol{Name: "_ZN2ns3addEii", Addr: 0x100, Size: 0x10}},
		{Symbol: Symbol{Name: "_ZNK5Shape4areaEv", Addr: 0x200, Size: 0x10}},
		{Symbol: Symbol{Name: "plain_c", Addr: 0x300, Size: 0x10}},
		{Symbol: Symbol{Name: "_Zbogus", Addr: 0x400, Size: 0x10}},
	})
	want := map[uint64]string{0x105: "ns::add(int, int)", 0x200: "Shape::area() const", 0x30f: "plain_c", 0x400: "_Zbogus"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				for addr, name := range want {
					if s, ok := tab.Lookup(addr); !ok || s.Name != name {
						t.Errorf("Lookup(%#x) = %+v, %v; want %q", addr, s, ok, name)
					}
				}
			}
		})
	}
	wg.Wait()
	if s, ok := addressOf(tab, "_ZN2ns3addEii"); !ok || s.Addr != 0x100 {
		t.Errorf(`Address("_ZN2ns3addEii") = %+v, %v`, s, ok)
	}
	if _, ok := addressOf(tab, "ns::add(int, int)"); ok {
		t.Error("Address found a demangled name")
	}
	if got := tab.Symbols()[0].Name; got != "_ZN2ns3addEii" {
		t.Errorf("Symbols()[0] is %q, want the mangled name", got)
	}
}

// Every C++ function of a g++-built program resolves to the name binutils
// demangles it to (nm -C), an independent demangler.
func TestELFCXX(t *testing.T) {
	bin := testutil.BuildCXX(t, "../probe/uprobe/testdata/target.cc")
	tab, err := ELF(bin)
	if err != nil {
		t.Fatal(err)
	}
	// In symbol table order (-p), nm and nm -C list the same symbols
	// line by line.
	mangled, demangled := nmLines(t, bin), nmLines(t, bin, "-C")
	if len(mangled) != len(demangled) {
		t.Fatalf("nm lists %d symbols, nm -C %d", len(mangled), len(demangled))
	}
	n := 0
	for i, m := range mangled {
		if !strings.HasPrefix(m.name, "_Z") {
			continue
		}
		n++
		// Aliases share an address (a constructor's C1 and C2): any one
		// of their names will do, so compare with the name nm -C gives
		// the symbol Lookup picked.
		s, ok := tab.Lookup(m.addr)
		if want := demangled[i].name; !ok || !demangledAt(demangled, m.addr, s.Name) || s.Name == m.name {
			t.Errorf("Lookup of %s (%#x) = %+v, %v; nm -C says %q", m.name, m.addr, s, ok, want)
		}
	}
	if n < 8 {
		t.Errorf("%s has %d C++ functions, want at least 8", bin, n)
	}
}

type nmSym struct {
	addr uint64
	name string
}

// nmLines returns the defined functions nm lists in symbol table order.
func nmLines(t *testing.T, path string, flags ...string) []nmSym {
	t.Helper()
	out, err := exec.Command("nm", append(flags, "-p", "--defined-only", path)...).Output()
	if errors.Is(err, exec.ErrNotFound) {
		t.Skipf("needs nm (binutils): %v", err)
	}
	if err != nil {
		t.Fatalf("nm %s: %v", path, err)
	}
	var syms []nmSym
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3) // a demangled name has spaces
		if len(f) != 3 || !strings.ContainsAny(f[1], "TtWw") {
			continue
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			t.Fatalf("nm line %q: %v", sc.Text(), err)
		}
		syms = append(syms, nmSym{addr, f[2]})
	}
	return syms
}

// demangledAt reports whether nm -C lists name at addr.
func demangledAt(syms []nmSym, addr uint64, name string) bool {
	return slices.Contains(syms, nmSym{addr, name})
}
