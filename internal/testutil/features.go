package testutil

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
)

// RequireHelper skips the test when programs of type pt cannot call the
// BPF helper fn on this kernel, and fails it when the probe itself fails.
func RequireHelper(t testing.TB, pt ebpf.ProgramType, fn asm.BuiltinFunc) {
	t.Helper()
	RequireRoot(t)
	err := features.HaveProgramHelper(pt, fn)
	switch {
	case errors.Is(err, ebpf.ErrNotSupported):
		t.Skipf("the kernel lacks %s for %s programs: %v", fn, pt, err)
	case err != nil:
		t.Fatalf("probe %s: %v", fn, err)
	}
}

// SkipUnsupported skips the test when err wraps ebpf.ErrNotSupported, a
// kernel feature's absence as cilium/ebpf and ebtrace's providers report
// it (a *probe.Unavailable from Available, say), and fails it on any other
// error: a regression must not become a skip.
func SkipUnsupported(t testing.TB, err error) {
	t.Helper()
	switch {
	case errors.Is(err, ebpf.ErrNotSupported):
		t.Skip(err)
	case err != nil:
		t.Fatal(err)
	}
}
