package kernel

import (
	"os"
	"strings"
	"testing"
)

// TestGFPFlags reads the GFP names of the 6.18 test kernel's kmem:kmalloc
// format, in the order the kernel tries them, composites first.
func TestGFPFlags(t *testing.T) {
	flags, err := NewEvents(os.DirFS(fakeTree)).GFPFlags()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	masks := map[string]uint64{}
	for _, f := range flags {
		names = append(names, f.Name)
		masks[f.Name] = f.Mask
	}
	want := "GFP_TRANSHUGE GFP_TRANSHUGE_LIGHT GFP_HIGHUSER_MOVABLE GFP_HIGHUSER GFP_USER GFP_KERNEL_ACCOUNT GFP_KERNEL GFP_NOFS GFP_ATOMIC GFP_NOIO GFP_NOWAIT GFP_DMA GFP_DMA32 __GFP_RECLAIM " +
		"__GFP_DMA __GFP_HIGHMEM __GFP_DMA32 __GFP_MOVABLE __GFP_RECLAIMABLE __GFP_HIGH __GFP_IO __GFP_FS __GFP_ZERO __GFP_DIRECT_RECLAIM __GFP_KSWAPD_RECLAIM __GFP_WRITE __GFP_NOWARN __GFP_RETRY_MAYFAIL __GFP_NOFAIL __GFP_NORETRY __GFP_MEMALLOC __GFP_COMP __GFP_NOMEMALLOC __GFP_HARDWALL __GFP_THISNODE __GFP_ACCOUNT __GFP_ZEROTAGS __GFP_NO_OBJ_EXT"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("names:\n%s\nwant:\n%s", got, want)
	}
	for name, mask := range map[string]uint64{
		"GFP_KERNEL": 0xcc0, "GFP_KERNEL_ACCOUNT": 0x400cc0, "GFP_ATOMIC": 0x820, "GFP_NOWAIT": 0x2800,
		"GFP_TRANSHUGE_LIGHT": 0x1c20ca, "GFP_TRANSHUGE": 0x1c24ca, "__GFP_RECLAIM": 0xc00, "__GFP_DMA": 1,
	} {
		if masks[name] != mask {
			t.Errorf("%s: mask %#x, want %#x", name, masks[name], mask)
		}
	}
	for _, c := range []struct {
		flags uint64
		want  string
	}{
		{0, ""},
		{0xcc0, "GFP_KERNEL"},
		{0xcc0 | 0x100, "GFP_KERNEL|__GFP_ZERO"},
		{0x820 | 0x2000, "GFP_ATOMIC|__GFP_NOWARN"},
		{0x40, "__GFP_IO"},
		{1 << 40, "0x10000000000"},
		{0x40 | 1<<40, "__GFP_IO|0x10000000000"},
	} {
		if got := FormatGFP(c.flags, flags); got != c.want {
			t.Errorf("FormatGFP(%#x) = %q, want %q", c.flags, got, c.want)
		}
	}
}

func TestParseGFPFlagsErrors(t *testing.T) {
	for _, c := range []struct{ format, want string }{
		{`print fmt: "%d", REC->x`, "no __print_flags of gfp_flags in the print format"},
		{`print fmt: "%s", __print_flags(REC->gfp_flags, "|", { 0, ((void *)0) } )`, "__print_flags of gfp_flags names no flag"},
		{`print fmt: "%s", __print_flags(REC->gfp_flags, "|", {(1UL << 2 "A"}`, "unterminated {mask, name} pair"},
		{`print fmt: "%s", __print_flags(REC->gfp_flags, "|", {1UL << , "A"}`, "flag A: expression ends early"},
		{`print fmt: "%s", __print_flags(REC->gfp_flags, "|", {(1 2), "A"})`, "flag A: unbalanced parentheses"},
		{`print fmt: "%s", __print_flags(REC->gfp_flags, "|", {1 + 2, "A"}`, `flag A: unexpected '+' in "1 + 2"`},
		{`print fmt: "%s", __print_flags(REC->gfp_flags, "|", {1, "A"`, "unterminated {mask, name} pair"},
	} {
		if _, err := ParseGFPFlags(c.format); err == nil || err.Error() != c.want {
			t.Errorf("ParseGFPFlags(%q): %v, want %s", c.format, err, c.want)
		}
	}
}
