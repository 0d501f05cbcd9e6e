package symbols

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

func TestTableLookup(t *testing.T) {
	tab := newTable([]candidate{
		{Symbol: Symbol{Name: "sized", Addr: 0x100, Size: 0x10}},
		{Symbol: Symbol{Name: "alias_weak", Addr: 0x200, Size: 0x20}, rank: 1},
		{Symbol: Symbol{Name: "alias_global", Addr: 0x200, Size: 0x20}},
		{Symbol: Symbol{Name: "open_ended", Addr: 0x300}},
		{Symbol: Symbol{Name: "sized", Addr: 0x400, Size: 4}},           // a second, higher "sized"
		{Symbol: Symbol{Name: "alias_global", Addr: 0x200, Size: 0x20}}, // a duplicate
	})
	for _, c := range []struct {
		addr uint64
		name string // "" for no symbol
	}{
		{0xff, ""},
		{0x100, "sized"},
		{0x10f, "sized"},
		{0x110, ""}, // past the size: a gap, not the symbol below
		{0x200, "alias_global"},
		{0x21f, "alias_global"},
		{0x300, "open_ended"},
		{0x3ff, "open_ended"}, // no size: up to the next symbol
		{0x403, "sized"},
		{0x404, ""},
	} {
		s, ok := tab.Lookup(c.addr)
		if ok != (c.name != "") || s.Name != c.name {
			t.Errorf("Lookup(%#x) = %+v, %v; want %q", c.addr, s, ok, c.name)
		}
	}
	if s, ok := addressOf(tab, "sized"); !ok || s.Addr != 0x100 {
		t.Errorf(`Address("sized") = %+v, %v; want the lowest, at 0x100`, s, ok)
	}
	if s, ok := addressOf(tab, "alias_weak"); !ok || s.Addr != 0x200 {
		t.Errorf(`Address("alias_weak") = %+v, %v; an alias must stay findable by name`, s, ok)
	}
	if _, ok := addressOf(tab, "missing"); ok {
		t.Error(`Address("missing") found a symbol`)
	}
	var names []string
	for _, s := range tab.Symbols() {
		names = append(names, s.Name)
	}
	if got, want := strings.Join(names, " "), "sized alias_global alias_weak open_ended sized"; got != want {
		t.Errorf("Symbols() = %s; want %s", got, want)
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Format("vfs_read", 0), "vfs_read+0"},
		{Format("main.main", 123), "main.main+123"},
		{Unknown(0x7efcea57caca), "0x7efcea57caca"},
		{Unknown(0), "0"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestKernelTable(t *testing.T) {
	syms, err := kernel.ParseKallsyms(strings.NewReader(`ffffffff81000000 T _stext
ffffffff81000000 T first_alias
ffffffff81000010 t local_func
ffffffff81000020 W weak_func
ffffffff82000000 D __start_rodata
ffffffff82000100 R some_table
ffffffffc0201000 t mod_func	[some_mod]
`))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := newKernelTable(syms)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr uint64
		name string
	}{
		{0xffffffff80ffffff, ""},
		{0xffffffff81000000, "_stext"}, // the first in kallsyms order
		{0xffffffff81000015, "local_func"},
		{0xffffffff82000050, "weak_func"}, // data symbols do not cut code symbols short
		{0xffffffffc0201004, "mod_func"},  // no "[some_mod]": bpftrace shows bare names
		{0xffffffffffff0000, "mod_func"},  // the last symbol has no end, as in bpftrace
	} {
		s, ok := tab.Lookup(c.addr)
		if ok != (c.name != "") || s.Name != c.name {
			t.Errorf("Lookup(%#x) = %+v, %v; want %q", c.addr, s, ok, c.name)
		}
	}
	if _, ok := addressOf(tab, "__start_rodata"); ok {
		t.Error("a data symbol is in the kernel table")
	}

	hidden, err := kernel.ParseKallsyms(strings.NewReader("0000000000000000 T _stext\n0000000000000000 t f\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newKernelTable(hidden); !errors.Is(err, os.ErrPermission) {
		t.Errorf("zeroed addresses: got error %v, want os.ErrPermission", err)
	}
}

// TestKernelLive maps kernel functions found by name back to their names
// in the running kernel's table.
func TestKernelLive(t *testing.T) {
	testutil.RequireRoot(t)
	tab, err := Kernel()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"vfs_read", "do_sys_openat2", "schedule"} {
		s, ok := addressOf(tab, name)
		if !ok {
			t.Errorf("%s is not in the kernel table", name)
			continue
		}
		for _, off := range []uint64{0, 1, 7} {
			got, ok := tab.Lookup(s.Addr + off)
			if !ok || got.Name != name || got.Addr != s.Addr {
				t.Errorf("Lookup(%s+%d) = %+v, %v", name, off, got, ok)
			}
		}
	}
	if again, _ := Kernel(); again != tab {
		t.Error("Kernel() built a second table")
	}
}

// addressOf finds the symbol called name, the lowest of several.
func addressOf(t *Table, name string) (Symbol, bool) {
	for _, s := range t.Symbols() {
		if s.Name == name {
			return s, true
		}
	}
	return Symbol{}, false
}
