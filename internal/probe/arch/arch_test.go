package arch

import "testing"

func TestAMD64(t *testing.T) {
	for name, want := range map[string]int{"rdi": 112, "edi": 112, "r8d": 72, "rax": 80, "al": 80, "rsp": 152, "rbp": 32} {
		if got, err := AMD64.Register(name); err != nil || got != want {
			t.Errorf("Register(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := AMD64.Register("xmm0"); err == nil {
		t.Error("xmm0 resolved")
	}
	if off, ok := AMD64.Arg(5); !ok || off != 64 {
		t.Errorf("Arg(5) = %d, %v; want r9 at 64", off, ok)
	}
	if _, ok := AMD64.Arg(6); ok {
		t.Error("Arg(6) is on the stack on amd64")
	}
}

func TestARM64(t *testing.T) {
	for name, want := range map[string]int{"x0": 0, "w3": 24, "x29": 232, "sp": 248, "pc": 256} {
		if got, err := ARM64.Register(name); err != nil || got != want {
			t.Errorf("Register(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if off, ok := ARM64.Arg(7); !ok || off != 56 {
		t.Errorf("Arg(7) = %d, %v; want x7 at 56", off, ok)
	}
}
