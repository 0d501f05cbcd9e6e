package kernel

import (
	"debug/elf"
	"fmt"
	"io"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
)

// BTF shares the decoded BTF of the kernel and its modules within the
// process: decoding vmlinux's takes a few hundred milliseconds, and the
// providers, these facts and cilium's loader (through
// ebpf.CollectionOptions.Cache) all need it.
var BTF = btf.NewCache()

// TaskCommOffset returns the byte offset of comm in the running kernel's
// struct task_struct, from its BTF, for programs that read it through
// bpf_get_current_task_btf(): two loads instead of bpf_get_current_comm(),
// which costs about 50 ns more per call. Parsing kernel BTF costs tens of
// milliseconds, so the answer is cached per boot. The error wraps
// ebpf.ErrNotSupported when the kernel has no BTF or lacks the helper.
func TaskCommOffset() (int, error) {
	return taskOffset("task_comm_offset", 1, TaskCommIn)
}

// taskOffset returns, cached per boot under name, the offset in struct
// task_struct that in finds in the kernel's BTF, for a program that reads
// it through bpf_get_current_task_btf(): only an offset usable with the
// helper is cached, so a cache hit needs no feature probe.
func taskOffset(name string, min int, in func(*btf.Spec) (int, error)) (int, error) {
	return bootCachedInt(name, min, func() (int, error) {
		if err := features.HaveProgramHelper(ebpf.TracePoint, asm.FnGetCurrentTaskBtf); err != nil {
			return 0, fmt.Errorf("bpf_get_current_task_btf: %w", err)
		}
		spec, err := BTF.Kernel()
		if err != nil {
			return 0, fmt.Errorf("kernel BTF: %w", err)
		}
		return in(spec)
	})
}

// TaskCommIn returns the byte offset of comm, a char[16] on an 8-byte
// boundary (read as two words), in the struct task_struct of the kernel
// whose BTF is spec.
func TaskCommIn(spec *btf.Spec) (int, error) {
	var task *btf.Struct
	if err := spec.TypeByName("task_struct", &task); err != nil {
		return 0, fmt.Errorf("kernel BTF: %w", err)
	}
	for _, m := range task.Members {
		arr, ok := m.Type.(*btf.Array)
		if m.Name != "comm" || !ok || arr.Nelems != 16 || m.Offset%8 != 0 {
			continue
		}
		return int(m.Offset.Bytes()), nil
	}
	return 0, fmt.Errorf("kernel BTF has no char comm[16] in task_struct: %w", ebpf.ErrNotSupported)
}

// LoadBTF reads the BTF of another kernel from path: the .BTF section of a
// vmlinux ELF file, stripped or not (Debian's, decompressed from its
// vmlinuz), or raw BTF such as a copy of /sys/kernel/btf/vmlinux.
func LoadBTF(path string) (*btf.Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if ef, err := elf.NewFile(f); err == nil {
		sec := ef.Section(".BTF")
		if sec == nil {
			return nil, fmt.Errorf("%s: an ELF file without a .BTF section: %w", path, ebpf.ErrNotSupported)
		}
		return btf.LoadSpecFromReader(sec.Open().(io.ReaderAt))
	}
	return btf.LoadSpecFromReader(f)
}
