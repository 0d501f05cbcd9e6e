#include "textflag.h"

// func cloneHolder(closes *uintptr, pairs, pipe uintptr, buf *byte) (pid, errno uintptr)
TEXT ·cloneHolder(SB),NOSPLIT,$0-48
	MOVQ	closes+0(FP), R13
	MOVQ	pairs+8(FP), R9
	MOVQ	pipe+16(FP), BX
	MOVQ	buf+24(FP), R12
	MOVQ	$56, AX // clone
	MOVQ	$0x111, DI // CLONE_VM|SIGCHLD
	XORQ	SI, SI // no stack of its own
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	parent
	NEGQ	AX
	MOVQ	$0, pid+32(FP)
	MOVQ	AX, errno+40(FP)
	RET
parent:
	MOVQ	AX, pid+32(FP)
	MOVQ	$0, errno+40(FP)
	RET

child:
	MOVQ	$109, AX // setpgid(0, 0)
	XORQ	DI, DI
	XORQ	SI, SI
	SYSCALL
closes:
	TESTQ	R9, R9
	JEQ	wait
	MOVQ	$436, AX // close_range(lo, hi, 0)
	MOVQ	0(R13), DI
	MOVQ	8(R13), SI
	XORQ	DX, DX
	SYSCALL
	CMPQ	AX, $0
	JNE	exit // it would keep this process's output open
	ADDQ	$16, R13
	DECQ	R9
	JMP	closes
wait:
	MOVQ	$0, AX // read(pipe, buf, 1)
	MOVQ	BX, DI
	MOVQ	R12, SI
	MOVQ	$1, DX
	SYSCALL
	CMPQ	AX, $-4 // EINTR
	JEQ	wait
	CMPQ	AX, $0
	JGT	wait
exit:
	MOVQ	$231, AX // exit_group(0)
	XORQ	DI, DI
	SYSCALL
	JMP	exit
