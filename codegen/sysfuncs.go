package codegen

import (
	"net/netip"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"ebtrace/check"
	"ebtrace/plan"
	"ebtrace/syntax"
	"ebtrace/types"
)

// sysCall compiles the functions of check's sysFunctions that are
// statements or integers; Text values are built by textTo.
func (g *gen) sysCall(e *syntax.CallExpr) {
	switch e.Fun {
	case "errorf", "warnf", "system", "cat":
		g.printf(e)
	case "time":
		g.event(e, nil, false)
	case "cgroupid", "pton":
		g.emit(asm.LoadImm(asm.R0, int64(g.info.Consts[e]), asm.DWord))
	case "signal":
		if lit, ok := e.Args[0].(*syntax.StringLit); ok {
			n, _ := check.SignalNumber(lit.Value)
			g.emit(asm.Mov.Imm(asm.R1, int32(n)))
		} else {
			g.intExpr(e.Args[0])
			g.emit(asm.Mov.Reg(asm.R1, asm.R0))
		}
		g.emit(asm.FnSendSignal.Call())
	case "override":
		g.intExpr(e.Args[0])
		g.emit(asm.Mov.Reg(asm.R2, asm.R0), asm.Mov.Reg(asm.R1, asm.R6), asm.FnOverrideReturn.Call())
	case "has_key":
		x := e.Args[0].(*syntax.MapExpr)
		m := g.plan.Map(x.Name)
		key := g.key(&syntax.MapExpr{Name: x.Name, Keys: e.Args[1:], Sp: e.Sp}, m)
		g.lookup(m, key)
		g.truth(asm.JNE)
	case "len":
		if x, ok := e.Args[0].(*syntax.MapExpr); ok {
			g.mapLength(g.plan.Map(x.Name))
			return
		}
		g.stackLength(g.typeOf(e.Args[0]))
	}
}

// ntopBytes writes ntop()'s value for an address held in a 4- or 16-byte
// array: the family (given, or told by the length), then the bytes.
func (g *gen) ntopBytes(e *syntax.CallExpr, addr syntax.Expr, at types.Type, dst int16) {
	if len(e.Args) == 2 {
		g.intExpr(e.Args[0])
		g.emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
	} else if at.Len == 16 {
		g.emit(stDW(asm.R10, dst, unix.AF_INET6))
	} else {
		g.emit(stDW(asm.R10, dst, unix.AF_INET))
	}
	g.zero(dst+8, 16)
	space := types.Kernel
	if a, ok := g.in.Args[addr]; ok { // a tracepoint field: in the context
		g.emit(asm.Mov.Reg(asm.R3, asm.R6), asm.Add.Imm(asm.R3, int32(a.Offset)))
	} else {
		g.addr(addr)
		g.emit(asm.Mov.Reg(asm.R3, asm.R0))
		space = g.space(addr)
	}
	fn := asm.FnProbeReadKernel
	if space == types.User {
		fn = asm.FnProbeReadUser
	}
	g.stackPtr(asm.R1, dst+8)
	g.emit(asm.Mov.Imm(asm.R2, int32(at.Len)), fn.Call())
	g.checkHelper(fn)
}

// mapLength leaves the number of elements of m in r0: bpf_for_each_map_elem
// with a callback that returns 0, so every element is visited, returns how
// many were. Each use has its own callback, appended after the program.
func (g *gen) mapLength(m *plan.Map) {
	fn := g.newLabel("ebt_len")
	g.emit(
		mapPtr(asm.R1, m.BPFName),
		asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference(fn),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnForEachMapElem.Call(),
	)
	src := Position{g.info.Program.File, g.pos}
	g.funcs = append(g.funcs, asm.Instructions{
		btf.WithFuncMetadata(asm.Mov.Imm(asm.R0, 0).WithSymbol(fn), callbackFunc(fn)).WithSource(src),
		asm.Return().WithSource(src),
	})
}

// stackLength leaves the number of frames of the current kstack or
// ustack in r0, read with bpf_get_stack into the per-CPU stack buffer.
func (g *gen) stackLength(t types.Type) {
	flags := int32(0)
	if t.AddrSpace == types.User {
		flags = bpfFUserStack
	}
	done, got := g.newLabel("stacklen"), g.newLabel("frames")
	key := g.alloc(8)
	g.emit(stDW(asm.R10, key, 0), mapPtr(asm.R1, plan.StackBufferMap))
	g.stackPtr(asm.R2, key)
	g.emit(
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, done),
		asm.Mov.Reg(asm.R2, asm.R0),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R3, int32(8*t.StackDepth)),
		asm.Mov.Imm(asm.R4, flags),
		asm.FnGetStack.Call(),
		asm.JSGE.Imm(asm.R0, 0, got),
		asm.Mov.Imm(asm.R0, 0),
		asm.Ja.Label(done),
	)
	g.label(got)
	g.emit(asm.RSh.Imm(asm.R0, 3))
	g.label(done)
}

// textTo writes the value of e, of a Text type t, at dst.
func (g *gen) textTo(e syntax.Expr, dst int16, t types.Type) {
	size := types.Align8(t.Size)
	switch e := e.(type) {
	case *syntax.Ident: // username
		g.emit(asm.FnGetCurrentUidGid.Call(), asm.Mov.Reg32(asm.R0, asm.R0), asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
		return
	case *syntax.VarExpr:
		g.copyStack(dst, g.varSlot(e.Name), size)
		return
	case *syntax.MapExpr:
		g.readMapValue(e, dst, size)
		return
	case *syntax.CondExpr:
		elseL, end := g.newLabel("else"), g.newLabel("cond")
		g.intExpr(e.Cond)
		g.emit(asm.JEq.Imm(asm.R0, 0, elseL))
		g.textTo(e.Then, dst, t)
		g.emit(asm.Ja.Label(end))
		g.label(elseL)
		g.textTo(e.Else, dst, t)
		g.label(end)
		return
	case *syntax.CallExpr:
		g.textCall(e, dst, t)
		return
	}
	g.zero(dst, size)
}

func (g *gen) textCall(e *syntax.CallExpr, dst int16, t types.Type) {
	switch e.Fun {
	case "ntop":
		addr := e.Args[len(e.Args)-1]
		at := g.typeOf(addr)
		if at.Kind == types.Text {
			g.textTo(addr, dst, t)
			return
		}
		if at.Kind == types.Array {
			g.ntopBytes(e, addr, at, dst)
			return
		}
		if len(e.Args) == 2 {
			g.intExpr(e.Args[0])
			g.emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
		} else {
			g.emit(stDW(asm.R10, dst, unix.AF_INET))
		}
		g.intExpr(addr)
		g.emit(asm.StoreMem(asm.R10, dst+8, asm.R0, asm.DWord), stDW(asm.R10, dst+16, 0))
	case "pton": // an IPv6 literal; IPv4 ones are integers
		ip := netip.MustParseAddr(e.Args[0].(*syntax.StringLit).Value).As16()
		g.emit(stDW(asm.R10, dst, unix.AF_INET6))
		g.storeConst(dst+8, string(ip[:]), 16)
	case "macaddr":
		g.intExpr(e.Args[0])
		g.emit(asm.Mov.Reg(asm.R3, asm.R0), stDW(asm.R10, dst, 0))
		g.stackPtr(asm.R1, dst)
		g.emit(asm.Mov.Imm(asm.R2, 6))
		fn := asm.FnProbeReadKernel
		if g.typeOf(e.Args[0]).AddrSpace == types.User && g.typeOf(e.Args[0]).Kind == types.Ptr {
			fn = asm.FnProbeReadUser
		}
		g.emit(fn.Call())
		g.checkHelper(fn)
	default: // strerror, syscall_name: the number
		g.intExpr(e.Args[0])
		g.emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
	}
}

// copyStack copies size bytes (whole words) of stack from src to dst.
func (g *gen) copyStack(dst, src int16, size int) {
	if dst == src {
		return
	}
	for i := 0; i < size; i += 8 {
		g.emit(
			asm.LoadMem(asm.R1, asm.R10, src+int16(i), asm.DWord),
			asm.StoreMem(asm.R10, dst+int16(i), asm.R1, asm.DWord),
		)
	}
}

// checkHelper reports, under -k, a helper call that just failed (r0
// negative) with the current statement's position.
func (g *gen) checkHelper(fn asm.BuiltinFunc) {
	id, ok := g.plan.HelperErrorEvent()
	if !ok {
		return
	}
	fine := g.newLabel("helper_ok")
	g.emit(asm.JSGE.Imm(asm.R0, 0, fine))
	g.reportHelper(id, fn)
	g.label(fine)
}

// reportHelper sends the HelperError record of helper fn, whose return
// value is in r0, for the current position.
func (g *gen) reportHelper(id int, fn asm.BuiltinFunc) {
	buf := g.alloc(plan.HelperErrorSize)
	span := int64(uint32(g.pos.Start)) | int64(uint32(g.pos.End))<<32
	g.emit(
		stDW(asm.R10, buf, int64(id)),
		stDW(asm.R10, buf+plan.HelperErrorHelper, int64(fn)),
		asm.StoreMem(asm.R10, buf+plan.HelperErrorCode, asm.R0, asm.DWord),
		asm.LoadImm(asm.R1, span, asm.DWord),
		asm.StoreMem(asm.R10, buf+plan.HelperErrorSpan, asm.R1, asm.DWord),
		mapPtr(asm.R1, plan.EventsMap),
	)
	g.stackPtr(asm.R2, buf)
	sent := g.newLabel("sent")
	g.emit(
		asm.Mov.Imm(asm.R3, plan.HelperErrorSize),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRingbufOutput.Call(),
		asm.JEq.Imm(asm.R0, 0, sent),
	)
	g.countStat(plan.StatLost)
	g.label(sent)
}

// path writes bpf_d_path of a struct path pointer into a new buffer. The
// kernel accepts only a typed pointer, so a context argument is loaded
// from the context, not copied.
func (g *gen) path(e *syntax.CallExpr) (int16, int) {
	n := g.typeOf(e).Size
	size := types.Align8(n)
	off := g.alloc(size)
	if a, ok := g.in.Args[e.Args[0]]; ok && a.Typed {
		g.emit(asm.LoadMem(asm.R1, asm.R6, int16(a.Offset), asm.DWord))
	} else {
		g.intExpr(e.Args[0])
		g.emit(asm.Mov.Reg(asm.R1, asm.R0))
	}
	g.zero(off, size)
	g.stackPtr(asm.R2, off)
	g.emit(asm.Mov.Imm(asm.R3, int32(n)), asm.FnDPath.Call())
	g.checkHelper(asm.FnDPath)
	return off, size
}
