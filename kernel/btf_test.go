package kernel

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// The cached offset and a fresh parse of kernel BTF agree.
func TestTaskCommOffset(t *testing.T) {
	fresh, err := taskCommFromBTF()
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("no kernel BTF: %v", err)
	}
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

func TestLoadBTF(t *testing.T) {
	raw := FakeTypesRaw(8)
	dir := t.TempDir()
	rawFile := filepath.Join(dir, "raw.btf")
	if err := os.WriteFile(rawFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	files := []string{rawFile}
	// A stripped ELF with a .BTF section, as a vmlinux decompressed from
	// a distribution's vmlinuz is.
	if objcopy, err := exec.LookPath("objcopy"); err == nil {
		elfFile := filepath.Join(dir, "vmlinux")
		out, err := exec.Command(objcopy, "--strip-all", "--add-section", ".BTF="+rawFile, "/bin/true", elfFile).CombinedOutput()
		if err != nil {
			t.Fatalf("objcopy: %v\n%s", err, out)
		}
		files = append(files, elfFile)
	} else {
		t.Log("objcopy is missing: only raw BTF is read")
	}
	for _, f := range files {
		spec, err := LoadBTF(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var task *btf.Struct
		if err := spec.TypeByName("task_struct", &task); err != nil || task.Size != 96 {
			t.Errorf("%s: task_struct %v, %v", f, task, err)
		}
	}
	if _, err := LoadBTF("/bin/true"); !errors.Is(err, ebpf.ErrNotSupported) {
		t.Errorf("an ELF file without BTF: %v", err)
	}
}
