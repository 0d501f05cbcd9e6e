package kernel

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
)

// The cached offset and a fresh parse of kernel BTF agree.
func TestTaskCommOffset(t *testing.T) {
	spec, err := BTF.Kernel()
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("no kernel BTF: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := TaskCommIn(spec)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := TaskCommOffset()
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("bpf_get_current_task_btf missing: %v", err)
	}
	if err != nil || cached != fresh || fresh <= 0 {
		t.Errorf("TaskCommOffset() = %d, %v; BTF says %d", cached, err, fresh)
	}
}
