package printf

import (
	"errors"
	"strings"
	"testing"
)

const (
	b40   = int64(1) << 40
	minus = int64(-1)
)

// renderCases hold what bpftrace v0.17 printed. Each comment is the
// printf statement, run as `bpftrace -e 'BEGIN { $b = 1; ...; exit(); }'`.
var renderCases = []struct {
	format string
	args   []any
	want   string
}{
	// Without a length modifier %d is C's int, 32 bits, as bpftrace prints
	// it (0.17, and since 0.19 by an explicit cast): the last is 5, and a
	// uretprobe's retval of an int function returning -1 prints -1.
	{"<%d|%d|%d|%d|%d>\n", []any{int64(0), int64(42), int64(-42), int64(1<<32 + 5), int64(0xffffffff)}, "<0|42|-42|5|-1>\n"},
	// printf("<%ld|%lld|%ld|%zd|%jd|%td>\n", $b<<40, -($b<<40), (int64)-9223372036854775807 - 1, -1, 5, 6);
	{"<%ld|%lld|%ld|%zd|%jd|%td>\n", []any{b40, -b40, int64(-1 << 63), minus, int64(5), int64(6)},
		"<1099511627776|-1099511627776|-9223372036854775808|-1|5|6>\n"},
	// printf("<%u|%lu|%x|%lx|%X|%lX|%o|%lo>\n", -1, -1, -1, -1, 3054, 3054, -1, -1);
	{"<%u|%lu|%x|%lx|%X|%lX|%o|%lo>\n", []any{minus, minus, minus, minus, int64(3054), int64(3054), minus, minus},
		// 32-bit without a modifier (see %d above).
		"<4294967295|18446744073709551615|ffffffff|ffffffffffffffff|BEE|BEE|37777777777|1777777777777777777777>\n"},
	// printf("<%hd|%hhd|%hu|%hhu|%hx|%hhx|%ho|%hho>\n", 70000, 300, -1, -1, 70000, 300, -1, -1);
	{"<%hd|%hhd|%hu|%hhu|%hx|%hhx|%ho|%hho>\n", []any{int64(70000), int64(300), minus, minus, int64(70000), int64(300), minus, minus},
		"<4464|44|65535|255|1170|2c|177777|377>\n"},
	// printf("<%5d|%-5d|%05d|%-05d|%.3d|%8.3d|%-8.3d|%08.3d|%.0d|%.0d|%2d>\n", 42, 42, -42, 42, 7, -7, 7, 7, 0, 3, 12345);
	{"<%5d|%-5d|%05d|%-05d|%.3d|%8.3d|%-8.3d|%08.3d|%.0d|%.0d|%2d>\n",
		[]any{int64(42), int64(42), int64(-42), int64(42), int64(7), int64(-7), int64(7), int64(7), int64(0), int64(3), int64(12345)},
		"<   42|42   |-0042|42   |007|    -007|007     |     007||3|12345>\n"},
	// printf("<%08x|%-8X|%.4o|%10lu|%.0x>\n", 255, 255, 8, -1, 0);
	{"<%08x|%-8X|%.4o|%10lu|%.0x>\n", []any{int64(255), int64(255), int64(8), minus, int64(0)},
		"<000000ff|FF      |0010|18446744073709551615|>\n"},
	// printf("<%c|%c|%3c|%-3c|%c>\n", 65, 0x142, 120, 121, 10);
	{"<%c|%c|%3c|%-3c|%c>\n", []any{int64(65), int64(0x142), int64(120), int64(121), int64(10)}, "<A|B|  x|y  |\n>\n"},
	// printf("<%p|%p|%p|%lp|%18p|%-18p|%.8p|%020p|%8p|%-8p>\n", 0, 0x1234, -1, 0xffff888012345678, 0x1234, 0x1234, 42, 42, 0, 0);
	{"<%p|%p|%p|%lp|%18p|%-18p|%.8p|%020p|%8p|%-8p>\n",
		[]any{int64(0), int64(0x1234), minus, uint64(0xffff888012345678), int64(0x1234), int64(0x1234), int64(42), int64(42), int64(0), int64(0)},
		"<(nil)|0x1234|0xffffffffffffffff|0xffff888012345678|            0x1234|0x1234            |0x0000002a|0x00000000000000002a|   (nil)|(nil)   >\n"},
	// printf("<%s|%8s|%-8s|%.2s|%8.2s|%-8.2s|%.0s|%05s|%s>\n", "hello", "hello", "hello", "hello", "hello", "hello", "hello", "hi", "");
	{"<%s|%8s|%-8s|%.2s|%8.2s|%-8.2s|%.0s|%05s|%s>\n",
		[]any{"hello", "hello", "hello", "hello", "hello", "hello", "hello", "hi", ""},
		"<hello|   hello|hello   |he|      he|he      ||   hi|>\n"},
	// printf("<%s|%3s>\n", "a\x00b", "x\x00yz");
	{"<%s|%3s>\n", []any{"a\x00b", "x\x00yz"}, "<a|  x>\n"},
	// printf("<%c>|<%5c>|<%-5c>\n", 0, 0, 0);
	{"<%c>|<%5c>|<%-5c>\n", []any{int64(0), int64(0), int64(0)}, "<>|<    >|<>\n"},
	// printf("no args at all\n");
	{"no args at all\n", nil, "no args at all\n"},
	// printf("%d%s%x", 1, "two", 3);
	{"%d%s%x", []any{int64(1), "two", int64(3)}, "1two3"},
}

// cCases cover what bpftrace v0.17 does not recognise as a verb (%i and the
// flags '+', ' ' and '#') or mangles (%%); the expectations are glibc's
// printf output, from a C program making the same calls.
var cCases = []struct {
	format string
	args   []any
	want   string
}{
	{"<%i|%+d|% d|%+d|% d|%+5d|%-+5d|%+05d|% 05d>",
		[]any{int64(-3), int64(5), int64(5), int64(-5), int64(-5), int64(5), int64(5), int64(5), int64(5)},
		"<-3|+5| 5|-5|-5|   +5|+5   |+0005| 0005>"},
	{"<%#x|%#X|%#o|%#x|%#o|%#.0o|%#08x|%#-8x|%#10.4x>",
		[]any{int64(255), int64(255), int64(8), int64(0), int64(0), int64(0), int64(255), int64(255), int64(255)},
		"<0xff|0XFF|010|0|0|0|0x0000ff|0xff    |    0x00ff>"},
	{"<%+u|% u|%+x|%+p|% p|%#p>",
		[]any{int64(5), int64(5), int64(5), int64(42), int64(42), int64(42)},
		"<5|5|5|+0x2a| 0x2a|0x2a>"},
	{"<%.d|%5.d|%.s>", []any{int64(0), int64(0), "abc"}, "<|     |>"},
	{"100%% of %d%%", []any{int64(7)}, "100% of 7%"},
}

func TestRender(t *testing.T) {
	all := append(renderCases[:len(renderCases):len(renderCases)], cCases...)
	for _, c := range all {
		f, err := Parse(c.format)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.format, err)
			continue
		}
		if n := len(f.Verbs()); n != len(c.args) {
			t.Errorf("Parse(%q): %d verbs, want %d", c.format, n, len(c.args))
		}
		if got := f.Render(c.args); got != c.want {
			t.Errorf("Render(%q)\n got %q\nwant %q", c.format, got, c.want)
		}
	}
}

func TestUint64AsSigned(t *testing.T) {
	f, err := Parse("%ld %d %lu %u")
	if err != nil {
		t.Fatal(err)
	}
	got := f.Render([]any{^uint64(0), ^uint64(0), int64(-2), int64(-2)})
	if want := "-1 -1 18446744073709551614 4294967294"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMissingArgs(t *testing.T) {
	f, err := Parse("[%d][%s][%x]")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Render([]any{"oops"}), "[0][][0]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestVerbs(t *testing.T) {
	f, err := Parse("a %-08.3lx b %s %%c %5c")
	if err != nil {
		t.Fatal(err)
	}
	want := []Verb{
		{Conv: 'x', Flags: "-0", Width: 8, Prec: 3, Length: "l", Offset: 2, End: 10},
		{Conv: 's', Width: -1, Prec: -1, Offset: 13, End: 15},
		{Conv: 'c', Width: 5, Prec: -1, Offset: 20, End: 23},
	}
	got := f.Verbs()
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("verb %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if got[0].WantsString() || !got[1].WantsString() || got[2].WantsString() {
		t.Errorf("WantsString wrong for %+v", got)
	}
}

// TestGFPVerb parses %gr, which takes flags that the caller names: it
// renders the string it is given, padded as %s is.
func TestGFPVerb(t *testing.T) {
	f, err := Parse("<%gr|%-12gr|%gr>")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Verbs() {
		if !v.WantsGFP() || v.WantsString() || v.Name() != "%gr" {
			t.Errorf("%+v: WantsGFP %v, WantsString %v, Name %s", v, v.WantsGFP(), v.WantsString(), v.Name())
		}
	}
	if got, want := f.Render([]any{"GFP_KERNEL", "GFP_NOWAIT", ""}), "<GFP_KERNEL|GFP_NOWAIT  |>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		format      string
		offset, end int
		msg         string
	}{
		{"ab %q", 3, 5, "unknown conversion %q"},
		{"ab %5.2f x", 3, 8, "%f is a floating-point conversion: BPF has no floating point, so scripts have only integers"},
		{"%e%d", 0, 2, "%e is a floating-point conversion: BPF has no floating point, so scripts have only integers"},
		{"%g\n", 0, 2, "%g is a floating-point conversion: BPF has no floating point, so scripts have only integers"},
		{"%lgr", 0, 4, `length modifier "l" cannot be used with %gr`},
		{"x %", 2, 3, `incomplete format verb "%" at end of string`},
		{"x %-5l", 2, 6, `incomplete format verb "%-5l" at end of string`},
		{"%*d", 0, 2, "'*' width is not supported; write the width into the format"},
		{"%.*d", 0, 3, "'*' precision is not supported; write the precision into the format"},
		{"%ls", 0, 3, `length modifier "l" cannot be used with %s`},
		{"%hhc", 0, 4, `length modifier "hh" cannot be used with %c`},
		{"%99999999d", 0, 9, "width 99999999 is too large (at most 65535)"},
		{"%.70000d", 0, 7, "precision 70000 is too large (at most 65535)"},
		{"%\xc3\xa9", 0, 2, `unknown conversion in "%\xc3"`},
		{"100%\n", 3, 5, `unknown conversion in "%\n"`},
	}
	for _, c := range cases {
		_, err := Parse(c.format)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q): got %v, want *Error", c.format, err)
			continue
		}
		if strings.Contains(pe.Msg, "floating-point") != (pe.Hint != "") {
			t.Errorf("Parse(%q): hint %q", c.format, pe.Hint)
		}
		if pe.Offset != c.offset || pe.End != c.end || pe.Msg != c.msg {
			t.Errorf("Parse(%q): got {%d %d %q}, want {%d %d %q}", c.format, pe.Offset, pe.End, pe.Msg, c.offset, c.end, c.msg)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range renderCases {
		f.Add(c.format)
	}
	for _, c := range cCases {
		f.Add(c.format)
	}
	f.Add("%")
	f.Add("%*d%.*s")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset >= pe.End || pe.End > len(s) || s[pe.Offset] != '%' {
				t.Fatalf("Parse(%q): bad error %#v", s, err)
			}
			return
		}
		var args []any
		for i, v := range p.Verbs() {
			if v.Offset < 0 || v.End > len(s) || s[v.Offset] != '%' || !strings.ContainsRune("diuxXoscprg", rune(v.Conv)) {
				t.Fatalf("Parse(%q): bad verb %+v", s, v)
			}
			switch {
			case v.WantsString():
				args = append(args, "str\x00ing")
			case i%2 == 0:
				args = append(args, int64(-1)<<(i%64))
			default:
				args = append(args, ^uint64(0)>>(i%64))
			}
		}
		p.Render(args)
	})
}
