package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Integer expressions: every one leaves its value in r0.

// spill saves r0 in a new stack slot and returns its offset.
func (g *gen) spill() int16 {
	off := g.alloc(8)
	g.Emit(asm.StoreMem(asm.R10, off, asm.R0, asm.DWord))
	return off
}

// arith computes dst = dst op src.
func (g *gen) arith(op string, dst, src asm.Register, signed bool) {
	switch op {
	case "+":
		g.Emit(asm.Add.Reg(dst, src))
	case "-":
		g.Emit(asm.Sub.Reg(dst, src))
	case "*":
		g.Emit(asm.Mul.Reg(dst, src))
	case "/":
		g.Emit(asm.Div.Reg(dst, src))
	case "%":
		g.Emit(asm.Mod.Reg(dst, src))
	case "&":
		g.Emit(asm.And.Reg(dst, src))
	case "|":
		g.Emit(asm.Or.Reg(dst, src))
	case "^":
		g.Emit(asm.Xor.Reg(dst, src))
	case "<<":
		g.Emit(asm.LSh.Reg(dst, src))
	case ">>":
		if signed {
			g.Emit(asm.ArSh.Reg(dst, src))
		} else {
			g.Emit(asm.RSh.Reg(dst, src))
		}
	}
}

var comparisons = map[string][2]asm.JumpOp{
	// unsigned, signed
	"==": {asm.JEq, asm.JEq},
	"!=": {asm.JNE, asm.JNE},
	"<":  {asm.JLT, asm.JSLT},
	"<=": {asm.JLE, asm.JSLE},
	">":  {asm.JGT, asm.JSGT},
	">=": {asm.JGE, asm.JSGE},
}

// intExpr leaves the value of e in r0.
func (g *gen) intExpr(e syntax.Expr) {
	e = g.valueOf(e)
	switch e := e.(type) {
	case *syntax.IntLit:
		g.Emit(asm.LoadImm(asm.R0, int64(e.Value), asm.DWord))
	case *syntax.Ident:
		if a, ok := g.in.Args[e]; ok {
			g.loadArg(a)
			return
		}
		if v, ok := g.in.Consts[e]; ok { // a kernel enum constant
			g.Emit(asm.LoadImm(asm.R0, int64(v), asm.DWord))
			return
		}
		g.builtin(e.Name)
	case *syntax.VarExpr:
		g.Emit(asm.LoadMem(asm.R0, asm.R10, g.varSlot(e.Key()), asm.DWord))
	case *syntax.ParamExpr:
		g.Emit(asm.LoadImm(asm.R0, g.info.ParamInt(e.N), asm.DWord))
	case *syntax.MapExpr:
		m := g.plan.Map(e.Name)
		key := g.key(e, m)
		if m.Kind.PerCPU() {
			// At the read itself: a kernel that cannot combine the CPUs'
			// values says so there.
			outer := g.Pos
			g.At(e.Sp)
			g.combined(m, key)
			g.At(outer)
			return
		}
		g.lookup(m, key)
		done := g.NewLabel("read")
		g.Emit(asm.JEq.Imm(asm.R0, 0, done), asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord))
		g.Label(done)
	case *syntax.FieldExpr:
		if check.InMemory(e, g.in) {
			g.loadMemory(e)
			return
		}
		g.loadArg(g.in.Args[e])
	case *syntax.IndexExpr:
		if !check.InMemory(e, g.in) {
			g.indexValue(e)
			return
		}
		g.loadMemory(e)
	case *syntax.CastExpr:
		g.cast(e)
	case *syntax.SizeofExpr, *syntax.OffsetofExpr:
		g.constant(e)
	case *syntax.UnaryExpr:
		switch e.Op {
		case "*":
			g.loadMemory(e)
			return
		case "&":
			g.addr(e.X)
			return
		}
		g.intExpr(e.X)
		switch e.Op {
		case "-":
			g.Emit(asm.Neg.Imm(asm.R0, 0))
		case "~":
			g.Emit(asm.Xor.Imm(asm.R0, -1))
		case "!":
			g.truth(asm.JEq)
		}
	case *syntax.IncDecExpr:
		g.incDec(e)
	case *syntax.BinaryExpr:
		g.binary(e)
	case *syntax.CondExpr:
		g.branch(e.Cond, "cond", func() { g.intExpr(e.Then) }, func() { g.intExpr(e.Else) })
	case *syntax.CallExpr:
		g.call(e)
	case *syntax.TupleIndex:
		g.indexInt(e)
	}
}

// truth sets r0 to 1 when `r0 jop 0` holds, else to 0.
func (g *gen) truth(jop asm.JumpOp) {
	yes, end := g.NewLabel("true"), g.NewLabel("bool")
	g.Emit(jop.Imm(asm.R0, 0, yes), asm.Mov.Imm(asm.R0, 0), asm.Ja.Label(end))
	g.Label(yes)
	g.Emit(asm.Mov.Imm(asm.R0, 1))
	g.Label(end)
}

func (g *gen) builtin(name string) {
	switch name {
	case "pid", "tid":
		g.taskID(name == "pid")
	case "uid":
		g.Emit(asm.FnGetCurrentUidGid.Call(), asm.Mov.Reg32(asm.R0, asm.R0))
	case "gid":
		g.Emit(asm.FnGetCurrentUidGid.Call(), asm.RSh.Imm(asm.R0, 32))
	case "cpu":
		g.Emit(asm.FnGetSmpProcessorId.Call())
	case "nsecs":
		g.Emit(asm.FnKtimeGetNs.Call())
	case "elapsed":
		g.Emit(asm.FnKtimeGetNs.Call())
		g.loadConfig(asm.R1, plan.ConfigStartNs)
		g.Emit(asm.Sub.Reg(asm.R0, asm.R1))
	case "cpid":
		g.loadConfig(asm.R0, plan.ConfigCpid)
	case "curtask":
		g.Emit(asm.FnGetCurrentTask.Call())
	case "cgroup":
		g.Emit(asm.FnGetCurrentCgroupId.Call())
	}
}

// loadConfig reads the ConfigMap value at off into dst, without a helper
// call: the map's value is addressed directly.
func (g *gen) loadConfig(dst asm.Register, off int16) {
	g.Emit(
		asm.LoadMapValue(dst, 0, 0).WithReference(plan.ConfigMap),
		asm.LoadMem(dst, dst, off, asm.DWord),
	)
}

var sizes = map[int]asm.Size{1: asm.Byte, 2: asm.Half, 4: asm.Word, 8: asm.DWord}

// loadArg reads an integer or pointer argument from the context into r0,
// sign-extending narrow signed fields. Tracepoint contexts allow only
// aligned loads; others go through probe_read_kernel.
func (g *gen) loadArg(a probe.Arg) {
	if a.Load != nil {
		g.Emit(a.Load(g.alloc(8))...)
		return
	}
	size := a.Type.Size
	if a.Offset%size == 0 {
		g.Emit(asm.LoadMem(asm.R0, asm.R6, int16(a.Offset), sizes[size]))
	} else {
		tmp := g.alloc(8)
		g.Emit(emit.StoreDW(asm.R10, tmp, 0))
		g.stackPtr(asm.R1, tmp)
		g.Emit(
			asm.Mov.Imm(asm.R2, int32(size)),
			asm.Mov.Reg(asm.R3, asm.R6),
			asm.Add.Imm(asm.R3, int32(a.Offset)),
			asm.FnProbeReadKernel.Call(),
			asm.LoadMem(asm.R0, asm.R10, tmp, asm.DWord),
		)
	}
	if a.Type.Signed && size < 8 {
		shift := int32(64 - 8*size)
		g.Emit(asm.LSh.Imm(asm.R0, shift), asm.ArSh.Imm(asm.R0, shift))
	}
}

func (g *gen) incDec(e *syntax.IncDecExpr) {
	delta := int32(1)
	if l, ok := g.in.Layouts[e]; ok && l.Size > 1 { // a pointer: its pointee's size
		delta = int32(l.Size)
	}
	if e.Op == "--" {
		delta = -delta
	}
	switch x := e.X.(type) {
	case *syntax.VarExpr:
		slot := g.varSlot(x.Key())
		g.Emit(
			asm.LoadMem(asm.R0, asm.R10, slot, asm.DWord),
			asm.Add.Imm(asm.R0, delta),
			asm.StoreMem(asm.R10, slot, asm.R0, asm.DWord),
		)
		if e.Post {
			g.Emit(asm.Add.Imm(asm.R0, -delta))
		}
	case *syntax.MapExpr:
		m := g.plan.Map(x.Name)
		val := g.alloc(8)
		key := g.key(x, m)
		g.lookup(m, key)
		miss, done := g.NewLabel("miss"), g.NewLabel("incdec")
		g.Emit(
			asm.JEq.Imm(asm.R0, 0, miss),
			asm.Mov.Imm(asm.R1, delta),
			fetchAdd(asm.R0, asm.R1),
			asm.Mov.Reg(asm.R0, asm.R1),
		)
		if !e.Post {
			g.Emit(asm.Add.Imm(asm.R0, delta))
		}
		g.Emit(asm.Ja.Label(done))
		g.Label(miss)
		g.Emit(emit.StoreDW(asm.R10, val, int64(delta)))
		g.update(m, key, val)
		if e.Post {
			g.Emit(asm.Mov.Imm(asm.R0, 0))
		} else {
			g.Emit(asm.Mov.Imm(asm.R0, delta))
		}
		g.Label(done)
	}
}

func (g *gen) binary(e *syntax.BinaryExpr) {
	switch e.Op {
	case "&&", "||":
		end := g.NewLabel("logic")
		g.intExpr(e.X)
		g.truth(asm.JNE)
		if e.Op == "&&" {
			g.Emit(asm.JEq.Imm(asm.R0, 0, end))
		} else {
			g.Emit(asm.JNE.Imm(asm.R0, 0, end))
		}
		g.intExpr(e.Y)
		g.truth(asm.JNE)
		g.Label(end)
		return
	}
	x, y := g.typeOf(e.X), g.typeOf(e.Y)
	switch x.Kind {
	case types.Str:
		g.strCompare(e)
		return
	case types.Array:
		g.arrayCompare(e)
		return
	}
	g.intExpr(e.X)
	left := g.spill()
	g.intExpr(e.Y)
	g.Emit(asm.Mov.Reg(asm.R1, asm.R0), asm.LoadMem(asm.R0, asm.R10, left, asm.DWord))
	if l, ok := g.in.Layouts[e]; ok && l.Size > 1 { // pointer ± integer
		if x.Kind == types.Ptr {
			g.Emit(asm.Mul.Imm(asm.R1, int32(l.Size)))
		} else {
			g.Emit(asm.Mul.Imm(asm.R0, int32(l.Size)))
		}
	}
	signed := x.Signed || y.Signed
	if jops, ok := comparisons[e.Op]; ok {
		jop := jops[0]
		if signed {
			jop = jops[1]
		}
		yes, end := g.NewLabel("true"), g.NewLabel("cmp")
		g.Emit(jop.Reg(asm.R0, asm.R1, yes), asm.Mov.Imm(asm.R0, 0), asm.Ja.Label(end))
		g.Label(yes)
		g.Emit(asm.Mov.Imm(asm.R0, 1))
		g.Label(end)
		return
	}
	g.arith(e.Op, asm.R0, asm.R1, x.Signed)
}
