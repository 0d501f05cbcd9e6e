package kernel

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// TaskStatusOffset returns the byte offset in struct task_struct of
// thread_info.status, the u32 whose TS_COMPAT bit marks an x86 task in a
// 32-bit syscall, for programs that read it through
// bpf_get_current_task_btf(). It is cached per boot as TaskCommOffset is.
// The error wraps ebpf.ErrNotSupported when the kernel has no BTF, no
// such field or lacks the helper.
func TaskStatusOffset() (int, error) {
	return taskOffset("task_status_offset", 0, TaskStatusIn)
}

// TaskStatusIn returns the byte offset of thread_info.status, a 4-byte
// integer, in the struct task_struct of the kernel whose BTF is spec.
func TaskStatusIn(spec *btf.Spec) (int, error) {
	var task *btf.Struct
	if err := spec.TypeByName("task_struct", &task); err != nil {
		return 0, fmt.Errorf("kernel BTF: %w", err)
	}
	for _, m := range task.Members {
		info, ok := btf.UnderlyingType(m.Type).(*btf.Struct)
		if m.Name != "thread_info" || !ok {
			continue
		}
		for _, f := range info.Members {
			if f.Name != "status" || f.BitfieldSize != 0 || f.Offset%32 != 0 {
				continue
			}
			if size, err := btf.Sizeof(f.Type); err == nil && size == 4 {
				return int(m.Offset.Bytes() + f.Offset.Bytes()), nil
			}
		}
	}
	return 0, fmt.Errorf("kernel BTF has no u32 thread_info.status in task_struct: %w", ebpf.ErrNotSupported)
}
