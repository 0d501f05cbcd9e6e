package main

import (
	"fmt"
	"testing"

	"ebtrace/kernel"
)

// TestKernelEnumConstants prints kernel enum constants by name, as the
// tools that compare against TCP states or drop reasons do, and compares
// with the values the kernel's BTF gives them.
func TestKernelEnumConstants(t *testing.T) {
	names := []string{"TCP_ESTABLISHED", "TCP_CLOSE", "BPF_MAP_TYPE_RINGBUF", "SKB_DROP_REASON_NOT_SPECIFIED"}
	want := ""
	for _, name := range names {
		v, ok := kernel.EnumValue(name)
		if !ok {
			t.Skipf("the kernel's BTF has no enum value %s", name)
		}
		want += fmt.Sprintf("%s=%d\n", name, v)
	}
	script := "BEGIN {"
	for _, name := range names {
		script += fmt.Sprintf(` printf("%s=%%d\n", %s);`, name, name)
	}
	script += " exit(); }"
	ebtrace(t, "-q", "-e", script).want(t, 0, want+"\n\n")
	r := ebtrace(t, "-e", "BEGIN { print(TCP_ESTABLSHED); }")
	r.want(t, 1, "")
}
