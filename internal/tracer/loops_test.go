package tracer_test

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// Loops run in the kernel: while with break and continue, for over a
// range, unroll, and return, which ends the probe.
func TestLoops(t *testing.T) {
	got, _ := run(t, `BEGIN {
	$i = 0;
	while ($i < 10) {
		$i++;
		if ($i % 2 == 0) { continue; }
		if ($i > 7) { break; }
		printf("while %d\n", $i);
	}
	for ($j : 2..5) { printf("for %d\n", $j); $j = 100; }
	for ($k : 5..2) { printf("never %d\n", $k); }
	unroll(3) { @u++; }
	@last = $i;
	return;
	@never = 1;
}`, plan.DefaultOptions)
	want := "while 1\nwhile 3\nwhile 5\nwhile 7\nfor 2\nfor 3\nfor 4\n\n\n@last: 9\n\n@u: 3\n" // @never is empty: a blank line
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// A for over a map visits every element with $kv.0 the key and $kv.1 the
// value, sees and updates the probe's variables, and honours break,
// continue and return (which ends the probe, not only the loop).
func TestForMap(t *testing.T) {
	testutil.RequireHelper(t, ebpf.RawTracepoint, asm.FnForEachMapElem)
	got, _ := run(t, `BEGIN {
	@a[1, "one"] = 10; @a[2, "two"] = 20; @a[3, "three"] = 30;
	@s["x"] = "ex";
	$sum = 0; $n = 0;
	for ($kv : @a) {
		if ($kv.0.0 == 2) { continue; }
		$sum += $kv.1;
		$n++;
		@seen[$kv.0.1] = $kv.1;
	}
	@sum = $sum; @n = $n;
	for ($kv2 : @s) { printf("%s=%s\n", $kv2.0, $kv2.1); }
	$stops = 0;
	for ($kv3 : @a) { $stops++; break; }
	@stops = $stops;
	for ($kv4 : @a) { for ($kv5 : @s) { return; } }
	@unreached = 1;
}`, plan.DefaultOptions)
	want := "x=ex\n\n\n@a[1, one]: 10\n@a[2, two]: 20\n@a[3, three]: 30\n@n: 2\n@s[x]: ex\n@seen[one]: 10\n@seen[three]: 30\n@stops: 1\n@sum: 40\n\n" // @unreached is empty
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// Tuples as variables, map keys and map values, nested, with strings
// widened to the longest assigned; print() of any value.
func TestTuples(t *testing.T) {
	const script = `BEGIN {
	$t = (1, "ab");
	$t = (-2, "abcdef");
	$t = ($t.0 - 1, $t.1);
	print($t);
	print($t.0);
	print($t.1);
	print((1, ("x", -2)));
	print("str");
	@t[1, "x"] = (2, "y");
	@u[(3, 4)] = 5;
	@u[6, 7] = 8;
	@n[(1, "a"), 2] = ((3, "b"), 4);
	@v = (7, "seven");
	print(@u[(3, 4)]);
	print(@v);
	print(@t[1, "x"].1);
}`
	got, _ := run(t, script, plan.DefaultOptions)
	want := "(-3, abcdef)\n-3\nabcdef\n(1, (x, -2))\nstr\n5\n@v: (7, seven)\ny\n\n\n" +
		"@n[(1, a), 2]: ((3, b), 4)\n@t[1, x]: (2, y)\n@u[3, 4]: 5\n@u[6, 7]: 8\n@v: (7, seven)\n"
	if got != want {
		t.Errorf("text got:\n%s\nwant:\n%s", got, want)
	}
	got, _ = runSession(t, script, session{compile: compile.Options{Plan: plan.DefaultOptions}, json: true})
	want = `{"type": "value", "data": [-3,"abcdef"]}
{"type": "value", "data": -3}
{"type": "value", "data": "abcdef"}
{"type": "value", "data": [1,["x",-2]]}
{"type": "value", "data": "str"}
{"type": "value", "data": 5}
{"type": "map", "data": {"@v": [7,"seven"]}}
{"type": "value", "data": "y"}
{"type": "map", "data": {"@n": {"(1, a),2": [[3,"b"],4]}}}
{"type": "map", "data": {"@t": {"1,x": [2,"y"]}}}
{"type": "map", "data": {"@u": {"3,4": 5, "6,7": 8}}}
{"type": "map", "data": {"@v": [7,"seven"]}}
`
	if got != want {
		t.Errorf("json got:\n%s\nwant:\n%s", got, want)
	}
}

// A variable read before its longest assignment in the source, but after
// it in time (a loop's next iteration), is read whole.
func TestVariableWidensAcrossIterations(t *testing.T) {
	got, _ := run(t, `BEGIN {
	$s = "ab"; $t = (1, "ab");
	unroll(2) { printf("%s\n", $s); print($t); print($t.1); $s = "abcdef"; $t = (2, "abcdef"); }
}`, plan.DefaultOptions)
	want := "ab\n(1, ab)\nab\nabcdef\n(2, abcdef)\nabcdef\n\n\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// With the kernel's numeric iterator, for over a range loads whatever its
// bounds, even ones known only at run time, and return inside it destroys
// the iterator (the verifier refuses the program otherwise).
func TestForRangeIterator(t *testing.T) {
	switch _, err := kernel.KernelFuncID("bpf_iter_num_new"); {
	case errors.Is(err, btf.ErrNotFound), errors.Is(err, ebpf.ErrNotSupported):
		t.Skipf("no numeric iterator (Linux 6.4 added it; kernel BTF lists it): %v", err)
	case err != nil:
		t.Fatal(err)
	}
	got, _ := runWith(t, `BEGIN {
	@n = 1000000;
	for ($i : 0..@n) { @c++; }
	for ($j : -2..2) { if ($j == 0) { continue; } printf("j %d\n", $j); }
	for ($k : 0..@n) { if ($k == 3) { break; } printf("k %d\n", $k); }
	for ($r : 0..@n) { for ($s : 0..@n) { if ($s == 1) { return; } printf("r %d %d\n", $r, $s); } }
}`, compile.Options{Plan: plan.DefaultOptions, KernelFuncID: kernel.KernelFuncID})
	want := "j -2\nj -1\nj 1\nk 0\nk 1\nk 2\nr 0 0\n\n\n@c: 1000000\n@n: 1000000\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// A tuple evaluated only for its effects still has them.
func TestTupleStatementEffects(t *testing.T) {
	got, _ := run(t, `BEGIN { (1, @x++, @x++); }`, plan.DefaultOptions)
	if want := "\n\n@x: 2\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
