package usdt

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/probe/arch"
	"github.com/ebtrace/ebtrace/internal/probe/uprobe"
	"github.com/ebtrace/ebtrace/internal/types"
)

func TestParseArgs(t *testing.T) {
	amd, arm := arch.AMD64, arch.ARM64
	rdi, _ := amd.Register("rdi")
	rbp, _ := amd.Register("rbp")
	rsp, _ := amd.Register("rsp")
	rax, _ := amd.Register("rax")
	rdx, _ := amd.Register("rdx")
	x0, _ := arm.Register("x0")
	x1, _ := arm.Register("x1")
	sp, _ := arm.Register("sp")
	for _, c := range []struct {
		regs *arch.Regs
		spec string
		want []Arg
	}{
		{amd, "-4@%edi", []Arg{{Spec: "-4@%edi", Size: 4, Signed: true, Loc: InRegister, Reg: rdi}}},
		{amd, "8@%rax", []Arg{{Spec: "8@%rax", Size: 8, Loc: InRegister, Reg: rax}}},
		{amd, "-4@-20(%rbp)", []Arg{{Spec: "-4@-20(%rbp)", Size: 4, Signed: true, Loc: InMemory, Reg: rbp, Value: -20}}},
		{amd, "8@16(%rsp)", []Arg{{Spec: "8@16(%rsp)", Size: 8, Loc: InMemory, Reg: rsp, Value: 16}}},
		{amd, "2@(%rax)", []Arg{{Spec: "2@(%rax)", Size: 2, Loc: InMemory, Reg: rax}}},
		{amd, "-4@$5", []Arg{{Spec: "-4@$5", Size: 4, Signed: true, Loc: Constant, Value: 5}}},
		{amd, "-4@$-7", []Arg{{Spec: "-4@$-7", Size: 4, Signed: true, Loc: Constant, Value: -7}}},
		{amd, "8@$0x10", []Arg{{Spec: "8@$0x10", Size: 8, Loc: Constant, Value: 16}}},
		{amd, "1@%ah", []Arg{{Spec: "1@%ah", Size: 1, Loc: InRegister, Reg: rax, Shift: 8}}},
		{amd, "8@8(%rax,%rdx,8)", []Arg{{Spec: "8@8(%rax,%rdx,8)", Size: 8, Loc: InMemory, Reg: rax, HasIndex: true, Index: rdx, Scale: 8, Value: 8}}},
		{amd, "4@(%rax,%rdx)", []Arg{{Spec: "4@(%rax,%rdx)", Size: 4, Loc: InMemory, Reg: rax, HasIndex: true, Index: rdx, Scale: 1}}},
		{amd, "-4@counter(%rip)", []Arg{{Spec: "-4@counter(%rip)", Size: 4, Signed: true, Loc: InMemory, Reg: 128, Symbol: "counter"}}},
		{amd, "8@counter+8(%rip)", []Arg{{Spec: "8@counter+8(%rip)", Size: 8, Loc: InMemory, Reg: 128, Symbol: "counter", Value: 8}}},
		{amd, "8@tab.1-0x10(%rip)", []Arg{{Spec: "8@tab.1-0x10(%rip)", Size: 8, Loc: InMemory, Reg: 128, Symbol: "tab.1", Value: -16}}},
		{amd, "%rdi", []Arg{{Spec: "%rdi", Size: 8, Loc: InRegister, Reg: rdi}}},
		{amd, "  -4@%edi   8@%rax ", []Arg{
			{Spec: "-4@%edi", Size: 4, Signed: true, Loc: InRegister, Reg: rdi},
			{Spec: "8@%rax", Size: 8, Loc: InRegister, Reg: rax},
		}},
		{amd, "", nil},
		{arm, "-4@x0", []Arg{{Spec: "-4@x0", Size: 4, Signed: true, Loc: InRegister, Reg: x0}}},
		{arm, "-4@w1", []Arg{{Spec: "-4@w1", Size: 4, Signed: true, Loc: InRegister, Reg: x1}}},
		{arm, "8@[sp, 16]", []Arg{{Spec: "8@[sp, 16]", Size: 8, Loc: InMemory, Reg: sp, Value: 16}}},
		{arm, "-4@[x1]", []Arg{{Spec: "-4@[x1]", Size: 4, Signed: true, Loc: InMemory, Reg: x1}}},
		{arm, "-8@[x29, -8]", []Arg{{Spec: "-8@[x29, -8]", Size: 8, Signed: true, Loc: InMemory, Reg: 232, Value: -8}}},
		{arm, "-4@5", []Arg{{Spec: "-4@5", Size: 4, Signed: true, Loc: Constant, Value: 5}}},
		{arm, "-4@-3", []Arg{{Spec: "-4@-3", Size: 4, Signed: true, Loc: Constant, Value: -3}}},
		{arm, "8@x0 -4@[sp, 4] 2@#7", []Arg{
			{Spec: "8@x0", Size: 8, Loc: InRegister, Reg: x0},
			{Spec: "-4@[sp, 4]", Size: 4, Signed: true, Loc: InMemory, Reg: sp, Value: 4},
			{Spec: "2@#7", Size: 2, Loc: Constant, Value: 7},
		}},
	} {
		got, err := ParseArgs(c.spec, c.regs)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s ParseArgs(%q) = %+v, %v\nwant %+v", c.regs.Name, c.spec, got, err, c.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, c := range []struct {
		regs       *arch.Regs
		spec, want string
	}{
		{arch.AMD64, "3@%eax", "size 3 is not 1, 2, 4 or 8"},
		{arch.AMD64, "x@%eax", `size "x" is not a number`},
		{arch.AMD64, "4@", "no operand"},
		{arch.AMD64, "4@%xmm0", `register "xmm0"`},
		{arch.AMD64, "4@8(%rip)", `operand "8" does not name a variable`},
		{arch.AMD64, "4@counter@GOTPCREL(%rip)", "does not name a variable"},
		{arch.AMD64, "4@counter+x(%rip)", "does not name a variable"},
		{arch.AMD64, "4@(%rip)", "does not name a variable"},
		{arch.AMD64, "4@sym+4(%rbx)", "symbolic addresses are not supported"},
		{arch.AMD64, "4@8(%rax,%rdx,3)", `scale "3"`},
		{arch.AMD64, "4@8(%rax", "is not a register"},
		{arch.AMD64, "4@$x", `constant "x"`},
		{arch.AMD64, "4@8(rax)", "no base register"},
		{arch.AMD64, "4@8(%rax,%rdx,8,1)", "too many parts"},
		{arch.AMD64, "4@99999999999(%rax)", "does not fit in 32 bits"},
		{arch.ARM64, "4@[x0", "lacks its ']'"},
		{arch.ARM64, "4@q0", `register "q0"`},
		{arch.ARM64, "4@[x0, y]", `displacement "y"`},
	} {
		_, err := ParseArgs(c.spec, c.regs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s ParseArgs(%q) = %v, want an error containing %q", c.regs.Name, c.spec, err, c.want)
		}
	}
}

func TestRelocate(t *testing.T) {
	args, err := ParseArgs("-4@counter+8(%rip)", arch.AMD64)
	if err != nil {
		t.Fatal(err)
	}
	a := args[0]
	if err := a.Relocate(0x4010, 0x1139); err != nil || a.Value != 0x4010+8-0x1139 || a.Symbol != "" || a.Reg != 128 {
		t.Errorf("Relocate = %+v, %v", a, err)
	}
	if got := a.Load(-16)[1]; fmt.Sprint(got) != fmt.Sprint(asm.LoadMem(asm.R3, asm.R6, 128, asm.DWord)) {
		t.Errorf("the address is not computed from rip: %v", got)
	}
	far := args[0]
	if err := far.Relocate(1<<40, 0x1000); err == nil || !strings.Contains(err.Error(), "too far") {
		t.Errorf("Relocate 1<<40 away: %v", err)
	}
}

func TestArgType(t *testing.T) {
	for spec, want := range map[string]types.Type{
		"-4@%edi": types.IntOf(4, true), "8@%rax": uprobe.Word, "-8@%rax": types.Int64,
		"2@%dx": types.IntOf(2, false), "-1@%al": types.IntOf(1, true),
	} {
		args, err := ParseArgs(spec, arch.AMD64)
		if err != nil || args[0].Type() != want {
			t.Errorf("%s: type %v, %v; want %v", spec, args[0].Type(), err, want)
		}
	}
}

// The load code for each operand form, as the kernel will run it.
func TestLoad(t *testing.T) {
	for _, c := range []struct {
		regs *arch.Regs
		spec string
		want asm.Instructions
	}{
		{arch.AMD64, "-4@%edi", asm.Instructions{
			asm.LoadMem(asm.R0, asm.R6, 112, asm.DWord),
			asm.LSh.Imm(asm.R0, 32), asm.ArSh.Imm(asm.R0, 32),
		}},
		{arch.AMD64, "2@%dx", asm.Instructions{
			asm.LoadMem(asm.R0, asm.R6, 96, asm.DWord),
			asm.LSh.Imm(asm.R0, 48), asm.RSh.Imm(asm.R0, 48),
		}},
		{arch.AMD64, "1@%ah", asm.Instructions{
			asm.LoadMem(asm.R0, asm.R6, 80, asm.DWord), asm.RSh.Imm(asm.R0, 8),
			asm.LSh.Imm(asm.R0, 56), asm.RSh.Imm(asm.R0, 56),
		}},
		{arch.AMD64, "8@%rax", asm.Instructions{asm.LoadMem(asm.R0, asm.R6, 80, asm.DWord)}},
		{arch.AMD64, "-4@$-7", asm.Instructions{asm.LoadImm(asm.R0, -7, asm.DWord)}},
		{arch.AMD64, "4@$-1", asm.Instructions{asm.LoadImm(asm.R0, 0xffffffff, asm.DWord)}},
		{arch.AMD64, "-4@-20(%rbp)", asm.Instructions{
			{OpCode: asm.StoreImmOp(asm.DWord), Dst: asm.R10, Offset: -16},
			asm.LoadMem(asm.R3, asm.R6, 32, asm.DWord),
			asm.Add.Imm(asm.R3, -20),
			asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, -16), asm.Mov.Imm(asm.R2, 4),
			asm.FnProbeReadUser.Call(),
			asm.LoadMem(asm.R0, asm.R10, -16, asm.DWord),
			asm.LSh.Imm(asm.R0, 32), asm.ArSh.Imm(asm.R0, 32),
		}},
		{arch.AMD64, "8@8(%rax,%rdx,4)", asm.Instructions{
			{OpCode: asm.StoreImmOp(asm.DWord), Dst: asm.R10, Offset: -16},
			asm.LoadMem(asm.R3, asm.R6, 80, asm.DWord),
			asm.LoadMem(asm.R4, asm.R6, 96, asm.DWord), asm.LSh.Imm(asm.R4, 2), asm.Add.Reg(asm.R3, asm.R4),
			asm.Add.Imm(asm.R3, 8),
			asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, -16), asm.Mov.Imm(asm.R2, 8),
			asm.FnProbeReadUser.Call(),
			asm.LoadMem(asm.R0, asm.R10, -16, asm.DWord),
		}},
		{arch.ARM64, "2@[sp, 16]", asm.Instructions{
			{OpCode: asm.StoreImmOp(asm.DWord), Dst: asm.R10, Offset: -16},
			asm.LoadMem(asm.R3, asm.R6, 248, asm.DWord),
			asm.Add.Imm(asm.R3, 16),
			asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, -16), asm.Mov.Imm(asm.R2, 2),
			asm.FnProbeReadUser.Call(),
			asm.LoadMem(asm.R0, asm.R10, -16, asm.DWord),
		}},
	} {
		args, err := ParseArgs(c.spec, c.regs)
		if err != nil {
			t.Fatal(err)
		}
		if got := args[0].Load(-16); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s %s loads with\n%v\nwant\n%v", c.regs.Name, c.spec, got, c.want)
		}
	}
}

func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{"-4@%edi 8@%rax", "-4@-20(%rbp)", "8@8(%rax,%rdx,8)", "-4@$-7", "1@%ah",
		"8@[sp, 16]", "-4@[x1]", "-4@x0", "2@#7", "-4@5", "[[ ]]", "@", "-@$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		for _, regs := range []*arch.Regs{arch.AMD64, arch.ARM64} {
			args, err := ParseArgs(spec, regs)
			if err != nil {
				continue
			}
			for _, a := range args {
				if a.Size != 1 && a.Size != 2 && a.Size != 4 && a.Size != 8 {
					t.Errorf("%q: size %d", spec, a.Size)
				}
				if a.Reg < 0 || a.Reg+8 > regs.Size || a.HasIndex && (a.Index < 0 || a.Index+8 > regs.Size) {
					t.Errorf("%q: register offsets %d, %d outside pt_regs", spec, a.Reg, a.Index)
				}
				if len(a.Load(-8)) == 0 {
					t.Errorf("%q: no load code", spec)
				}
			}
		}
	})
}
