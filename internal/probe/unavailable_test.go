package probe

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// An *Unavailable wraps ebpf.ErrNotSupported and keeps its cause, so both
// errors.Is and errors.As reach what the kernel said, through nested
// *Unavailable too; its text is the reason alone.
func TestUnavailableKeepsCause(t *testing.T) {
	bare := &Unavailable{Reason: "no kprobes"}
	if !errors.Is(bare, ebpf.ErrNotSupported) || errors.Is(bare, unix.EPERM) {
		t.Errorf("without a cause: Is(ErrNotSupported) %v, Is(EPERM) %v",
			errors.Is(bare, ebpf.ErrNotSupported), errors.Is(bare, unix.EPERM))
	}

	inner := &Unavailable{Reason: "the kernel refuses BPF trampolines", Err: unix.EPERM}
	outer := Unavailablef("%s: %w; %s", "fentry:vfs_read", inner, "use a tracepoint instead")
	if want := "fentry:vfs_read: the kernel refuses BPF trampolines; use a tracepoint instead"; outer.Error() != want {
		t.Errorf("Error() = %q, want %q", outer.Error(), want)
	}
	for _, target := range []error{ebpf.ErrNotSupported, unix.EPERM, fs.ErrPermission} {
		if !errors.Is(outer, target) {
			t.Errorf("%v does not wrap %v", outer, target)
		}
	}
	var errno unix.Errno
	if !errors.As(outer, &errno) || errno != unix.EPERM {
		t.Errorf("errors.As(errno) = %v", errno)
	}
	var u *Unavailable
	if !errors.As(outer, &u) || u != outer {
		t.Errorf("errors.As(*Unavailable) = %v, want the outer one", u)
	}

	_, statErr := os.Stat("/nonexistent/ref_ctr_offset")
	var pathErr *fs.PathError
	missing := Unavailablef("cannot raise semaphores (%w)", statErr)
	if !errors.Is(missing, os.ErrNotExist) || !errors.As(missing, &pathErr) || !errors.Is(missing, ebpf.ErrNotSupported) {
		t.Errorf("%v: Is(ErrNotExist) %v, As(*PathError) %v, Is(ErrNotSupported) %v", missing,
			errors.Is(missing, os.ErrNotExist), errors.As(missing, &pathErr), errors.Is(missing, ebpf.ErrNotSupported))
	}

	two := Unavailablef("%w and %w", unix.ENOENT, unix.EOPNOTSUPP)
	if !errors.Is(two, unix.ENOENT) || !errors.Is(two, unix.EOPNOTSUPP) || two.Error() != "no such file or directory and operation not supported" {
		t.Errorf("two causes: %v", two)
	}
	if plain := Unavailablef("rate %d too high", 5); plain.(*Unavailable).Err != nil || !errors.Is(plain, ebpf.ErrNotSupported) {
		t.Errorf("without %%w: %#v", plain)
	}
}
