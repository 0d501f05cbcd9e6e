package tracer_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/plan"
)

// TestStringFunctions runs the string functions in BEGIN through
// BPF_PROG_TEST_RUN, each on strings of several lengths: literals,
// positional parameters, comm and a string map.
func TestStringFunctions(t *testing.T) {
	cases := []struct {
		expr string
		want string
	}{
		{`strlen("")`, "0"},
		{`strlen("hello")`, "5"},
		{`strlen(str($2))`, "9"},
		{`strlen(@s)`, "12"},
		{`strlen(str($2, 4))`, "3"},
		{`strncmp("abc", "abd", 2)`, "0"},
		{`strncmp("abc", "abd", 3)`, "1"},
		{`strncmp("ab", "abc", 2)`, "0"},
		{`strncmp("ab", "abc", 3)`, "1"},
		{`strncmp("abc", "abc", 100)`, "0"},
		{`strncmp(str($2), "two words", 9)`, "0"},
		{`strncmp(@s, "a string map", 64)`, "0"},
		{`strcontains("hello world", "o w")`, "1"},
		{`strcontains("hello world", "world")`, "1"},
		{`strcontains("hello world", "worlds")`, "0"},
		{`strcontains("hello", "")`, "1"},
		{`strcontains("", "x")`, "0"},
		{`strcontains(str($2), "wo")`, "1"},
		{`strcontains(str($2), str($3))`, "1"},
		{`strcontains(str($3), str($2))`, "0"},
		{`strcontains(@s, str($3))`, "0"},
		{`strcontains(@s, "map")`, "1"},
		{`strcontains("aab", "ab")`, "1"},
		{`$1 + $#`, "11"},
		{`$5`, "0"},
		{`$1 * 2 == 14`, "1"},
	}
	var b strings.Builder
	b.WriteString("BEGIN {\n@s = \"a string map\";\n")
	for _, c := range cases {
		b.WriteString(`printf("%d\n", ` + c.expr + ");\n")
	}
	b.WriteString(`printf("[%r] [%r] [%r] [%r]\n", buf("a\x01\xff\"\\ z", 7), buf(str($2)), buf(str($2), 3), buf(@s, 100));` + "\n")
	b.WriteString(`printf("[%s] [%s] %s\n", str($2), str($9), strftime("%s", nsecs));` + "\n")
	// A parameter longer than max_strlen (64) is cut like any string.
	b.WriteString(`printf("%s\n", str($4));` + "\n")
	b.WriteString("}\n")
	out, _ := runWith(t, b.String(), compile.Options{Plan: plan.DefaultOptions, Check: check.Options{Params: []string{"7", "two words", "word", strings.Repeat("x", 100)}}})
	lines := strings.Split(out, "\n")
	if len(lines) < len(cases)+3 {
		t.Fatalf("output:\n%s", out)
	}
	for i, c := range cases {
		if lines[i] != c.want {
			t.Errorf("%s = %s, want %s", c.expr, lines[i], c.want)
		}
	}
	if got, want := lines[len(cases)], `[a\x01\xff"\ z] [two words] [two] [a string map\x00\x00\x00\x00]`; got != want {
		t.Errorf("buffers:\n%s\nwant:\n%s", got, want)
	}
	last := strings.Fields(lines[len(cases)+1])
	if len(last) != 4 || last[0] != "[two" || last[1] != "words]" || last[2] != "[]" {
		t.Fatalf("strings and time: %q", lines[len(cases)+1])
	}
	// strftime turns nanoseconds since boot into the time of day.
	secs, err := strconv.ParseInt(strings.TrimPrefix(lines[len(cases)+1], "[two words] [] "), 10, 64)
	if err != nil {
		t.Fatalf("strftime(\"%%s\", nsecs) = %q: %v", lines[len(cases)+1], err)
	}
	if d := time.Now().Unix() - secs; d < -2 || d > 2 {
		t.Errorf("strftime(\"%%s\", nsecs) = %d, now is %d", secs, time.Now().Unix())
	}
	if got, want := lines[len(cases)+2], strings.Repeat("x", 63); got != want {
		t.Errorf("str($4) = %q, want %q", got, want)
	}
}

// TestLongStrings runs strings of up to 1024 bytes, whose probe keeps its
// frame in the scratch map, through BPF_PROG_TEST_RUN.
func TestLongStrings(t *testing.T) {
	long := strings.Repeat("0123456789", 100) + "end"
	script := `config = { max_strlen = 1024 }
BEGIN {
	$s = str($1);
	@m[$s] = strlen($s);
	printf("%s|%d|%d|%d|%d|%d\n", $s, strlen($s), $s == str($1), strcontains($s, "9end"), strncmp($s, str($2), 999), strncmp($s, str($2), 1000));
}`
	out, _ := runWith(t, script, compile.Options{Plan: plan.DefaultOptions, Check: check.Options{Params: []string{long, long[:999] + "!"}}})
	want := long + "|1003|1|1|0|1\n\n\n@m[" + long + "]: 1003\n"
	if out != want {
		t.Errorf("output:\n%q\nwant:\n%q", out, want)
	}
}

// With print_maps_on_exit = false, the maps stay unprinted at the end.
func TestPrintMapsOnExit(t *testing.T) {
	const body = `BEGIN { @x = 1; @y[2] = count(); printf("hi\n"); }`
	if out, _ := run(t, body, plan.DefaultOptions); out != "hi\n\n\n@x: 1\n@y[2]: 1\n" {
		t.Errorf("by default: %q", out)
	}
	if out, _ := run(t, "config = { print_maps_on_exit = false }\n"+body, plan.DefaultOptions); out != "hi\n" {
		t.Errorf("print_maps_on_exit = false: %q", out)
	}
}
