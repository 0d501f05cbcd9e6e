package kernel

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseKallsyms(t *testing.T) {
	in := "ffffffff81000010 T vfs_read\nffffffff81000000 t _stext\nffffffffc0201000 t ext4_file_open\t[ext4]\n"
	syms, err := ParseKallsyms(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []KernelSymbol{
		{Addr: 0xffffffff81000000, Type: 't', Name: "_stext"},
		{Addr: 0xffffffff81000010, Type: 'T', Name: "vfs_read"},
		{Addr: 0xffffffffc0201000, Type: 't', Name: "ext4_file_open", Module: "ext4"},
	}
	if len(syms) != len(want) {
		t.Fatalf("got %d symbols, want %d", len(syms), len(want))
	}
	for i := range want {
		if syms[i] != want[i] {
			t.Errorf("symbol %d = %+v, want %+v", i, syms[i], want[i])
		}
	}
	for _, bad := range []string{"xyz T f\n", "ffff TT f\n", "ffff T f ext4\n", "ffff T\n"} {
		if _, err := ParseKallsyms(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed without error", bad)
		}
	}
}

func TestKallsymsLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("kallsyms addresses are hidden from non-root users")
	}
	syms, err := Kallsyms()
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no /proc/kallsyms (CONFIG_KALLSYMS is off): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == "vfs_read" && s.IsText() && s.Addr != 0 {
			return
		}
	}
	t.Error("vfs_read is not a text symbol with an address")
}

func FuzzParseKallsyms(f *testing.F) {
	f.Add("ffffffff81000010 T vfs_read\nffffffffc0201000 t x\t[m]\n")
	f.Fuzz(func(t *testing.T, s string) {
		syms, err := ParseKallsyms(strings.NewReader(s))
		for i := 1; err == nil && i < len(syms); i++ {
			if syms[i-1].Addr > syms[i].Addr {
				t.Fatal("not sorted")
			}
		}
	})
}
