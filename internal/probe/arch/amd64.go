package arch

import "sync"

// AMD64 is struct pt_regs of x86_64: r15 r14 r13 r12 bp bx r11 r10 r9 r8
// ax cx dx si di orig_ax ip cs flags sp ss, 8 bytes each.
var AMD64 = &Regs{
	Name: "amd64",
	Args: []int{112, 104, 96, 88, 72, 64}, // di si dx cx r8 r9
	Ret:  80, IP: 128, SP: 152, Size: 168,
	Mode: 136, ModeMask: 3, UserMode: 3, // cs: the current privilege level, 3 in user mode
	SyscallWrapper: "__x64_sys_",
	byName:         sync.OnceValue(amd64Names),
}

func amd64Names() map[string]int {
	offsets := map[string]int{
		"r15": 0, "r14": 8, "r13": 16, "r12": 24, "rbp": 32, "rbx": 40,
		"r11": 48, "r10": 56, "r9": 64, "r8": 72, "rax": 80, "rcx": 88,
		"rdx": 96, "rsi": 104, "rdi": 112, "rip": 128, "rsp": 152,
	}
	byName := map[string]int{}
	for name, off := range offsets {
		byName[name] = off
	}
	// Narrower names of the same registers: eax/ax/al, r8d/r8w/r8b, ...
	legacy := map[string][]string{
		"rax": {"eax", "ax", "al", "ah"}, "rbx": {"ebx", "bx", "bl", "bh"},
		"rcx": {"ecx", "cx", "cl", "ch"}, "rdx": {"edx", "dx", "dl", "dh"},
		"rsi": {"esi", "si", "sil"}, "rdi": {"edi", "di", "dil"},
		"rbp": {"ebp", "bp", "bpl"}, "rsp": {"esp", "sp", "spl"}, "rip": {"eip", "ip"},
	}
	for full, names := range legacy {
		for _, n := range names {
			byName[n] = offsets[full]
		}
	}
	for _, r := range []string{"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"} {
		for _, suffix := range []string{"d", "w", "b"} {
			byName[r+suffix] = offsets[r]
		}
	}
	return byName
}
