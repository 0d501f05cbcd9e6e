package kernel

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// KernelFuncID returns the BTF type ID of the kernel function name in
// vmlinux, which a kfunc call instruction names; it wraps
// btf.ErrNotFound when the kernel has no such function.
func KernelFuncID(name string) (btf.TypeID, error) {
	spec, err := BTF.Kernel()
	if err != nil {
		return 0, fmt.Errorf("kernel BTF: %w", err)
	}
	var fn *btf.Func
	if err := spec.TypeByName(name, &fn); err != nil {
		return 0, fmt.Errorf("kernel function %s: %w", name, err)
	}
	return spec.TypeID(fn)
}

// KfuncAllowed reports whether programs of type pt may call the kernel
// function name: the kernel registers each kfunc for some program types
// only, and says which only to the verifier. It loads a program that
// makes the call and reads the verifier's answer: refused as "not
// allowed", or anything else (a wrong argument is still an allowed call).
// The answer is kept for the process: the type rules ask it for each
// attach point of a probe.
func KfuncAllowed(name string, pt ebpf.ProgramType) (bool, error) {
	q := kfuncQuestion{name, pt}
	if a, ok := kfuncAnswers.Load(q); ok {
		return a.(kfuncAnswer).allowed, a.(kfuncAnswer).err
	}
	allowed, err := askVerifier(name, pt)
	kfuncAnswers.Store(q, kfuncAnswer{allowed, err})
	return allowed, err
}

type kfuncQuestion struct {
	name string
	pt   ebpf.ProgramType
}

type kfuncAnswer struct {
	allowed bool
	err     error
}

var kfuncAnswers sync.Map // kfuncQuestion -> kfuncAnswer

// askVerifier loads a program of type pt that calls name and reads the
// verifier's answer.
func askVerifier(name string, pt ebpf.ProgramType) (bool, error) {
	id, err := KernelFuncID(name)
	if err != nil {
		return false, err
	}
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Type:    pt,
		License: "GPL",
		Instructions: asm.Instructions{
			{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Src: asm.PseudoKfuncCall, Constant: int64(id)},
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	}, ebpf.ProgramOptions{LogLevel: ebpf.LogLevelBranch})
	if err == nil {
		prog.Close()
		return true, nil
	}
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		return false, fmt.Errorf("asking whether %s may call %s: %w", pt, name, err)
	}
	for _, line := range ve.Log {
		if strings.Contains(line, "calling kernel function "+name+" is not allowed") {
			return false, nil
		}
	}
	return true, nil
}
