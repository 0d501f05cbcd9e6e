package arch

import (
	"strconv"
	"sync"
)

// ARM64 is struct user_pt_regs of arm64 as BPF sees it: regs[31] sp pc
// pstate, 8 bytes each.
var ARM64 = &Regs{
	Name: "arm64",
	Args: []int{0, 8, 16, 24, 32, 40, 48, 56}, // x0-x7
	Ret:  0, IP: 256, SP: 248, Size: 272,
	Mode: 264, ModeMask: 0xf, UserMode: 0, // pstate: M[3:0] is EL0t in user mode
	SyscallWrapper: "__arm64_sys_",
	byName:         sync.OnceValue(arm64Names),
}

func arm64Names() map[string]int {
	byName := map[string]int{"sp": 248, "pc": 256}
	for i := 0; i <= 30; i++ {
		n := strconv.Itoa(i)
		byName["x"+n] = 8 * i
		byName["w"+n] = 8 * i
	}
	byName["lr"] = byName["x30"]
	byName["fp"] = byName["x29"]
	return byName
}
