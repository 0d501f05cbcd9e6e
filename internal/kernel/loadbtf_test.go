package kernel_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
)

// TestLoadBTF reads another kernel's BTF as raw BTF and, where objcopy is
// installed, from a stripped ELF's .BTF section. It is an external test
// because the fake BTF comes from package kerneltest, which imports kernel.
func TestLoadBTF(t *testing.T) {
	raw := kerneltest.FakeTypesRaw(8)
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
		spec, err := kernel.LoadBTF(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var task *btf.Struct
		if err := spec.TypeByName("task_struct", &task); err != nil || task.Size != 96 {
			t.Errorf("%s: task_struct %v, %v", f, task, err)
		}
	}
	if _, err := kernel.LoadBTF("/bin/true"); !errors.Is(err, ebpf.ErrNotSupported) {
		t.Errorf("an ELF file without BTF: %v", err)
	}
}
