#include "textflag.h"

// func cloneHolder(closes *uintptr, pairs, pipe uintptr, buf *byte) (pid, errno uintptr)
TEXT ·cloneHolder(SB),NOSPLIT,$0-48
	MOVD	closes+0(FP), R10
	MOVD	pairs+8(FP), R11
	MOVD	pipe+16(FP), R12
	MOVD	buf+24(FP), R13
	MOVD	$0x111, R0 // CLONE_VM|SIGCHLD
	MOVD	$0, R1 // no stack of its own
	MOVD	$0, R2
	MOVD	$0, R3
	MOVD	$0, R4
	MOVD	$220, R8 // clone
	SVC
	CBZ	R0, child
	CMN	$4095, R0
	BCC	parent
	NEG	R0, R0
	MOVD	$0, pid+32(FP)
	MOVD	R0, errno+40(FP)
	RET
parent:
	MOVD	R0, pid+32(FP)
	MOVD	$0, errno+40(FP)
	RET

child:
	MOVD	$0, R0 // setpgid(0, 0)
	MOVD	$0, R1
	MOVD	$154, R8
	SVC
closes:
	CBZ	R11, wait
	MOVD	0(R10), R0 // close_range(lo, hi, 0)
	MOVD	8(R10), R1
	MOVD	$0, R2
	MOVD	$436, R8
	SVC
	CBNZ	R0, exit // it would keep this process's output open
	ADD	$16, R10
	SUB	$1, R11
	B	closes
wait:
	MOVD	R12, R0 // read(pipe, buf, 1)
	MOVD	R13, R1
	MOVD	$1, R2
	MOVD	$63, R8
	SVC
	CMN	$4, R0 // EINTR
	BEQ	wait
	CMP	$0, R0
	BGT	wait
exit:
	MOVD	$0, R0 // exit_group(0)
	MOVD	$94, R8
	SVC
	B	exit
