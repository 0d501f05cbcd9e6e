package main

import (
	"fmt"
	"testing"
)

// The current dialect's macros: expression, variable and map parameters,
// a bare name for a macro without parameters, a macro calling another, an
// expression evaluated at each use, and hygiene (the body's $t is not the
// caller's).
func TestMacros(t *testing.T) {
	r := runCLI(t, "-q", "testdata/dialect/macros.bt")
	r.want(t, 0, "2\n11\n3\n17\nhi\nhi\n3\n200\n100\n\n\n@b: 6\n")
}

// let, block scopes, block values, bools, a map declaration (an LRU map
// of two keys keeps the last two), and the layouts of the current release
// next to --compat=0.17's: bools, stats() and a histogram's header.
func TestCurrentDialect(t *testing.T) {
	const lines = "0\n3\nthree\n22\n%s\n2\n\n\n%s\n[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n" +
		"@recent[2]: 2\n@recent[3]: 3\n%s\n\n@yes: %s\n"
	r := runCLI(t, "-q", "testdata/dialect/values.bt")
	r.want(t, 0, fmt.Sprintf(lines, "(true, false, true, false, true)", "@h:", "@s: { .count = 2, .average = 6, .total = 12 }", "true"))
	r = runCLI(t, "-q", "--compat=0.17", "testdata/dialect/values.bt")
	r.want(t, 0, fmt.Sprintf(lines, "(1, 0, 1, 0, 1)", "@h: ", "@s: count 2, average 6, total 12", "1"))
	r = runCLI(t, "-q", "-f", "json", "-e", `BEGIN { @yes = 1 > 0; @t = (true, "x"); @s = stats(4); print(false); exit(); }`)
	r.want(t, 0, `{"type": "value", "data": false}
{"type": "stats", "data": {"@s": {"count": 1, "average": 4, "total": 4}}}
{"type": "map", "data": {"@t": [true,"x"]}}
{"type": "map", "data": {"@yes": true}}
`)
}

// Records: fields by name, printed as the current release does, in text
// and JSON, as values, map values and nested.
func TestRecords(t *testing.T) {
	const script = `BEGIN { $r = (color="green", size=2); print($r); print($r.size + 1); printf("%s\n", $r.color);
		@m[$r.color] = $r; @n = (a=1, b=(c="x", d=true)); exit(); }`
	r := runCLI(t, "-q", "-e", script)
	r.want(t, 0, "{ .color = \"green\", .size = 2 }\n3\ngreen\n\n\n@m[green]: { .color = \"green\", .size = 2 }\n@n: { .a = 1, .b = { .c = \"x\", .d = true } }\n")
	r = runCLI(t, "-q", "-f", "json", "-e", script)
	r.want(t, 0, `{"type": "value", "data": {"color": "green", "size": 2}}
{"type": "value", "data": 3}
{"type": "printf", "data": "green\n"}
{"type": "map", "data": {"@m": {"green": {"color": "green", "size": 2}}}}
{"type": "map", "data": {"@n": {"a": 1, "b": {"c": "x", "d": true}}}}
`)
}

// typeof(x) as a cast's type, in a script and through a macro's
// parameter, and casts to bool.
func TestTypeof(t *testing.T) {
	r := runCLI(t, "-q", "-e", `macro as_type_of(x, v) { (typeof(x))v }
BEGIN { $small = (uint8)1; print((typeof($small))300); print(as_type_of($small, 513));
	$p = (int32 *)0; print((typeof($p))8 + 1); print((typeof(1 == 1))5); print((bool)0); exit(); }`)
	r.want(t, 0, "44\n1\n0xc\ntrue\nfalse\n\n\n")
}

// delete() answers whether the key was there.
func TestDeleteAnswers(t *testing.T) {
	r := runCLI(t, "-q", "-e", `BEGIN { @a[1] = 1; @a[3] = 3; print(delete(@a, 1)); if (!delete(@a, 2)) { printf("no 2\n"); }
		$d = delete(@a[3]); print($d); delete(@a, 7); exit(); }`)
	r.want(t, 0, "true\nno 2\ntrue\n\n\n\n")
}

// A 0.17 script reads a variable after the if and else that assign it (as
// tcpconnect.bt does with its addresses): it is one variable for the probe,
// while names used only within separate blocks stay separate.
func TestProbeScopedRead(t *testing.T) {
	r := runCLI(t, "-q", "-e", `BEGIN { $f = 2;
		if ($f == 2 || $f == 10) { if ($f == 2) { $d = "v4"; } else { $d = "v6"; } printf("%s\n", $d); }
		if ($f == 10) { $d = "v6"; } else { $d = "other"; } printf("%s\n", $d);
		if (1) { $s = "text"; print($s); } else { $s = 5; print($s); }
		exit(); }`)
	r.want(t, 0, "v4\nother\ntext\n\n\n")
}

// A variable declared by let without a value is an integer for += and ++
// too; a map holding a pointer or a bool reads back as one.
func TestTypedReads(t *testing.T) {
	r := runCLI(t, "-q", "-e", `BEGIN { let $x; $x += 2; $x++; print($x);
		@p = curtask; print(@p->tgid == pid); $q = @p; print($q.tgid == pid); @b = 1 < 2; $c = @b; print($c);
		clear(@p); exit(); }`)
	r.want(t, 0, "3\ntrue\ntrue\ntrue\n\n\n@b: true\n\n")
}
