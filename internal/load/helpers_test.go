package load

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
)

// On a kernel without the helpers that reading a per-CPU aggregation and
// tseries() need, loading stops before the verifier with one diagnostic
// at each script position that needs one; the kernel is asked for each
// program's own type.
func TestMissingHelpers(t *testing.T) {
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	script := "BEGIN {\n\t@c = count();\n\tif (@c > 1) { @t = tseries(@c, 1s, 10); }\n}\ntracepoint:syscalls:sys_enter_openat { @c = count(); printf(\"%d\\n\", @c); }\n"
	res, err := compile.Compile(source.NewFile("test.bt", script), all.Registry(), env, compile.Options{Plan: plan.DefaultOptions})
	if err != nil {
		t.Fatal(err)
	}
	defer func(h func(ebpf.ProgramType, asm.BuiltinFunc) error) { haveHelper = h }(haveHelper)
	asked := map[string]bool{}
	haveHelper = func(pt ebpf.ProgramType, fn asm.BuiltinFunc) error {
		asked[fmt.Sprint(pt, " ", fn)] = true
		if fn == asm.FnKtimeGetTaiNs {
			return nil
		}
		return fmt.Errorf("%v: %w", fn, ebpf.ErrNotSupported)
	}
	err = missingHelpers(res, res.Spec())
	var d *source.Diagnostics
	if !errors.As(err, &d) {
		t.Fatalf("got %v, want diagnostics", err)
	}
	var b strings.Builder
	d.Render(&b)
	hint := "hint: reading a count(), sum(), min(), max() or avg() map in a probe combines every CPU's value with it; a plain counter (@n++) is readable on any kernel\n"
	msg := "error: this needs the BPF helper bpf_map_lookup_percpu_elem, which this kernel lacks (Linux 5.19 added it)\n"
	want := "test.bt:3:6: " + msg +
		"     if (@c > 1) { @t = tseries(@c, 1s, 10); }\n" +
		"         ^~\n" + hint +
		"test.bt:3:29: " + msg +
		"     if (@c > 1) { @t = tseries(@c, 1s, 10); }\n" +
		"                                ^~\n" + hint +
		"test.bt:5:69: " + msg +
		"    tracepoint:syscalls:sys_enter_openat { @c = count(); printf(\"%d\\n\", @c); }\n" +
		"                                                                        ^~\n" + hint
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	for _, q := range []string{"RawTracepoint FnMapLookupPercpuElem", "RawTracepoint FnKtimeGetTaiNs", "TracePoint FnMapLookupPercpuElem"} {
		if !asked[q] {
			t.Errorf("the kernel was not asked %s; asked %v", q, asked)
		}
	}
	haveHelper = func(_ ebpf.ProgramType, fn asm.BuiltinFunc) error {
		if fn == asm.FnKtimeGetTaiNs {
			return ebpf.ErrNotSupported
		}
		return nil
	}
	err = missingHelpers(res, res.Spec())
	if !errors.As(err, &d) || !strings.HasPrefix(d.Error(), "test.bt:3:16: error: this needs the BPF helper bpf_ktime_get_tai_ns, which this kernel lacks (Linux 6.1 added it)\n") || len(d.Items) != 1 {
		t.Errorf("without bpf_ktime_get_tai_ns: got %v", err)
	}
	haveHelper = func(ebpf.ProgramType, asm.BuiltinFunc) error { return nil }
	if err := missingHelpers(res, res.Spec()); err != nil {
		t.Errorf("with every helper: %v", err)
	}
}
