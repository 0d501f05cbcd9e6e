package load_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// A loop the verifier cannot bound is reported at the loop, the innermost
// one holding the instruction it stopped at, with a hint, whichever way
// the kernel gives up (too many instructions, or EFAULT without a log
// for too many jumps, as 6.18 does).
func TestUnboundedLoop(t *testing.T) {
	testutil.RequireRoot(t)
	cases := []struct {
		script string
		want   string // the source the diagnostic underlines
	}{
		{"BEGIN { $i = 0; while (1) { $i++; } }", "while (1) { $i++; }"},
		{"BEGIN { $e = nsecs; $i = 0; while ($i < $e) { @x++; $i++; } }", "while ($i < $e) { @x++; $i++; }"},
		{"BEGIN { $n = 0; while ($n < 2) { $n++; for ($i : 0..nsecs) { @y++; } } }", "for ($i : 0..nsecs) { @y++; }"},
		{"BEGIN { @m[1] = 1; for ($kv : @m) { $i = 0; while ($i >= 0) { $i++; } } }", "while ($i >= 0) { $i++; }"},
	}
	for _, c := range cases {
		res := compileScript(t, c.script)
		obj, err := load.Load(res, load.Config{})
		if err == nil {
			obj.Close()
			t.Errorf("%s: loaded", c.script)
			continue
		}
		var v *load.VerifierError
		if !errors.As(err, &v) {
			t.Errorf("%s: got %v, want a VerifierError", c.script, err)
			continue
		}
		d := v.Diag.Items[0]
		if got := res.File.Text[d.Span.Start:d.Span.End]; got != c.want {
			t.Errorf("%s: diagnostic at %q, want %q", c.script, got, c.want)
		}
		if !strings.HasPrefix(d.Message, "the verifier could not prove this loop ends (in BEGIN)") ||
			len(d.Hints) != 1 || !strings.Contains(d.Hints[0], "while ($i < 100)") {
			t.Errorf("%s: %s", c.script, v.Diag)
		}
	}
}

// Bounded loops pass: the verifier follows a counter to a constant, and a
// for over a map is bounded by the kernel's helper.
func TestBoundedLoops(t *testing.T) {
	testutil.RequireHelper(t, ebpf.RawTracepoint, asm.FnForEachMapElem)
	res := compileScript(t, `BEGIN {
	$i = 0; while ($i < 100) { @w[$i] = $i; $i++; }
	for ($j : 0..50) { @f[$j] = (1, "x"); }
	for ($kv : @w) { @sum += $kv.1; for ($kv2 : @f) { @n++; } }
}`)
	obj, err := load.Load(res, load.Config{})
	if err != nil {
		t.Fatal(err)
	}
	obj.Close()
}
