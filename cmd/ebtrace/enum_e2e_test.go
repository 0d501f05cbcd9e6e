package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// TestKernelEnumConstants prints kernel enum constants by name, as the
// tools that compare against TCP states or drop reasons do, and compares
// with the values the kernel's BTF gives them.
func TestKernelEnumConstants(t *testing.T) {
	names := []string{"TCP_ESTABLISHED", "TCP_CLOSE", "BPF_MAP_TYPE_RINGBUF", "SKB_DROP_REASON_NOT_SPECIFIED"}
	want := ""
	for _, name := range names {
		c, ok := kernel.EnumValue(name)
		if !ok {
			t.Skipf("the kernel's BTF has no enum value %s", name)
		}
		want += fmt.Sprintf("%s=%d\n", name, c.Value)
	}
	script := "BEGIN {"
	for _, name := range names {
		script += fmt.Sprintf(` printf("%s=%%d\n", %s);`, name, name)
	}
	script += " exit(); }"
	runCLI(t, "-q", "-e", script).want(t, 0, want+"\n\n")
	r := runCLI(t, "-e", "BEGIN { print(TCP_ESTABLSHED); }")
	r.want(t, 1, "")
}

// TestEnumNames prints enum values by name with %s: values of a kernel
// enum cast to it (one it does not name prints as its number), a kernel
// enum constant kept in a variable, and the values of the script's own
// enums. The kernel's names and values come from its BTF.
func TestEnumNames(t *testing.T) {
	spec, err := kernel.BTF.Kernel()
	if err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	var e *btf.Enum
	if err := spec.TypeByName("hrtimer_restart", &e); err != nil {
		t.Skipf("the kernel's BTF has no enum hrtimer_restart: %v", err)
	}
	reason, ok := kernel.EnumValue("SKB_DROP_REASON_SOCKET_FILTER")
	if !ok {
		t.Skip("the kernel's BTF has no enum value SKB_DROP_REASON_SOCKET_FILTER")
	}
	var script, want strings.Builder
	script.WriteString("enum custom { CUSTOM_ENUM = 3, };\nenum { LOW = -2, HIGH, };\nBEGIN {\n")
	unnamed := uint64(0)
	for _, v := range e.Values {
		fmt.Fprintf(&script, "\tprintf(\"%%s=%%d\\n\", (enum hrtimer_restart)%d, (enum hrtimer_restart)%d);\n", v.Value, v.Value)
		fmt.Fprintf(&want, "%s=%d\n", v.Name, v.Value)
		unnamed = max(unnamed, v.Value+1)
	}
	fmt.Fprintf(&script, "\tprintf(\"%%s\\n\", (enum hrtimer_restart)%d);\n", unnamed)
	fmt.Fprintf(&want, "%d\n", unnamed)
	script.WriteString("\t$r = SKB_DROP_REASON_SOCKET_FILTER;\n\tprintf(\"%d, %s, %s\\n\", $r, $r, CUSTOM_ENUM);\n")
	fmt.Fprintf(&want, "%d, SKB_DROP_REASON_SOCKET_FILTER, CUSTOM_ENUM\n", reason.Value)
	script.WriteString("\tprintf(\"%s %d %s %-6s|\\n\", LOW, LOW, (enum custom)4, HIGH);\n\texit();\n}\n")
	want.WriteString("LOW -2 4 HIGH  |\n")
	runCLI(t, "-q", "-e", script.String()).want(t, 0, want.String()+"\n\n")
}
