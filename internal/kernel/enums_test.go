package kernel

import (
	"errors"
	"maps"
	"os"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// firstValues is the oracle for ScanEnums: cilium/ebpf's decoding of every
// type, the first enum naming a value winning.
func firstValues(t *testing.T, spec *btf.Spec) map[string]EnumConst {
	t.Helper()
	want := map[string]EnumConst{}
	for typ, err := range spec.All() {
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := typ.(*btf.Enum); ok {
			for _, v := range e.Values {
				if _, dup := want[v.Name]; !dup && v.Name != "" {
					id, err := spec.TypeID(e)
					if err != nil {
						t.Fatal(err)
					}
					want[v.Name] = EnumConst{Value: int64(v.Value), Enum: id}
				}
			}
		}
	}
	return want
}

func TestScanEnumsBuilt(t *testing.T) {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	all := []btf.Type{
		&btf.Struct{Name: "s", Size: 4, Members: []btf.Member{{Name: "a", Type: u32}}},
		&btf.Enum{Name: "state", Size: 4, Values: []btf.EnumValue{{Name: "UP", Value: 1}, {Name: "DOWN", Value: 0xfffffff0}}},
		&btf.Enum{Name: "delta", Size: 4, Signed: true, Values: []btf.EnumValue{{Name: "BACK", Value: uint64(0xffffffffffffffff)}, {Name: "UP", Value: 9}}},
		&btf.Enum{Name: "wide", Size: 8, Values: []btf.EnumValue{{Name: "HUGE", Value: 1 << 40}}},
		&btf.FuncProto{Return: u32, Params: []btf.FuncParam{{Name: "x", Type: u32}}},
		&btf.Array{Index: u32, Type: u32, Nelems: 3},
	}
	b, err := btf.NewBuilder(all, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ScanEnums(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Type IDs count from 1 in the order the types were given.
	want := map[string]EnumConst{"UP": {1, 2}, "DOWN": {0xfffffff0, 2}, "BACK": {-1, 3}, "HUGE": {1 << 40, 4}}
	if !maps.Equal(got, want) {
		t.Errorf("ScanEnums = %v, want %v", got, want)
	}
	if _, err := ScanEnums(raw[:len(raw)/2]); err == nil {
		t.Error("half the BTF scanned without error")
	}
}

// TestScanEnumsKernel holds the scan of the running kernel's BTF against
// cilium/ebpf's decoding of the same file.
func TestScanEnumsKernel(t *testing.T) {
	raw, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("the kernel has no BTF (/sys/kernel/btf/vmlinux)")
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := ScanEnums(raw)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	want := firstValues(t, spec)
	if len(want) == 0 || !maps.Equal(got, want) {
		t.Errorf("ScanEnums found %d values, cilium/ebpf %d", len(got), len(want))
		for name, v := range want {
			if got[name] != v {
				t.Errorf("%s = %d, want %d", name, got[name], v)
				break
			}
		}
	}
	if v, ok := EnumValue("BPF_MAP_TYPE_RINGBUF"); !ok || v != want["BPF_MAP_TYPE_RINGBUF"] {
		t.Errorf("EnumValue(BPF_MAP_TYPE_RINGBUF) = %v, %v", v, ok)
	}
}
