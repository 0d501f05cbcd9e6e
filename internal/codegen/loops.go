package codegen

import (
	"slices"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// loop is an enclosing while or for loop: where break and continue go. In
// the body of a for over a map, which is a callback, they return from it.
type loop struct {
	brk, cont string
	// iter is the slot of the loop's numeric iterator, which return
	// destroys with the kernel function destroy; 0 without one.
	iter    int16
	destroy btf.TypeID
}

// callback is the state of a for-over-a-map body being compiled as a
// bpf_for_each_map_elem callback. r9 holds the caller's frame pointer: the
// callback works on a copy of the scratch variables at the same offsets
// of its own frame, written back when it returns.
type callback struct {
	flag int16 // the caller's slot that tells it the probe returned
	brk  string
	cont string
}

// Values of a for-over-a-map's flag slot after the iteration.
const flagReturned = 1

// loopStmt compiles while, unroll, for and the jump statements.
func (g *gen) loopStmt(s syntax.Stmt) {
	switch s := s.(type) {
	case *syntax.WhileStmt:
		head, end := g.NewLabel("while"), g.NewLabel("endwhile")
		g.LoopHead(head)
		g.intExpr(s.Cond)
		g.Emit(asm.JEq.Imm(asm.R0, 0, end))
		g.loopBody(s.Body, loop{brk: end, cont: head})
		g.Emit(asm.Ja.Label(head))
		g.Label(end)
	case *syntax.UnrollStmt:
		n := int(s.Count.(*syntax.IntLit).Value)
		for range n {
			g.block(s.Body)
		}
	case *syntax.ForRangeStmt:
		g.forRange(s)
	case *syntax.ForMapStmt:
		g.forMap(s)
	case *syntax.JumpStmt:
		g.jump(s)
	}
}

func (g *gen) loopBody(b *syntax.Block, l loop) {
	g.loops = append(g.loops, l)
	g.block(b)
	g.loops = g.loops[:len(g.loops)-1]
}

// The kernel's numeric iterator (open-coded, Linux 6.4): the verifier
// checks its loop body once, whatever the range.
var iterFuncs = [3]string{"bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy"}

// forRange compiles `for ($i : start..end)`, with the kernel's numeric
// iterator where it has one, else counting itself. Either way the loop
// keeps its own count, so assigning $i in the body does not change the
// iterations.
func (g *gen) forRange(s *syntax.ForRangeStmt) {
	if ids, ok := g.kernelFuncs(iterFuncs); ok {
		g.forIter(s, ids)
		return
	}
	counter, end := g.alloc(8), g.alloc(8)
	g.intExpr(s.Start)
	g.Emit(asm.StoreMem(asm.R10, counter, asm.R0, asm.DWord))
	g.intExpr(s.End)
	g.Emit(asm.StoreMem(asm.R10, end, asm.R0, asm.DWord))
	head, step, done := g.NewLabel("for"), g.NewLabel("step"), g.NewLabel("endfor")
	g.LoopHead(head)
	g.Emit(
		asm.LoadMem(asm.R0, asm.R10, counter, asm.DWord),
		asm.LoadMem(asm.R1, asm.R10, end, asm.DWord),
		asm.JSGE.Reg(asm.R0, asm.R1, done),
		asm.StoreMem(asm.R10, g.varSlot(s.Var.Key()), asm.R0, asm.DWord),
	)
	g.loopBody(s.Body, loop{brk: done, cont: step})
	g.Label(step)
	g.nextIteration(counter, asm.R0, head)
	g.Label(done)
}

// nextIteration adds 1, through r, to the loop counter at slot counter
// and jumps back to the loop's head.
func (g *gen) nextIteration(counter int16, r asm.Register, head string) {
	g.Emit(
		asm.LoadMem(r, asm.R10, counter, asm.DWord),
		asm.Add.Imm(r, 1),
		asm.StoreMem(asm.R10, counter, r, asm.DWord),
		asm.Ja.Label(head),
	)
}

// kernelFuncs resolves kernel functions for kfunc calls; false when any
// is missing or the target kernel is unknown.
func (g *gen) kernelFuncs(names [3]string) ([3]btf.TypeID, bool) {
	var ids [3]btf.TypeID
	if g.opts.KernelFunc == nil {
		return ids, false
	}
	for i, name := range names {
		id, err := g.opts.KernelFunc(name)
		if err != nil {
			return ids, false
		}
		ids[i] = id
	}
	return ids, true
}

// forIter compiles a for over a range with a numeric iterator in a stack
// slot: new(&it, start, end); while (p = next(&it)) { $i = *p; body }
// destroy(&it). The iterator counts in 32 bits, as the kernel's does.
func (g *gen) forIter(s *syntax.ForRangeStmt, ids [3]btf.TypeID) {
	newFn, nextFn, destroyFn := ids[0], ids[1], ids[2]
	it := g.alloc(8)
	g.intExpr(s.Start)
	start := g.spill()
	g.intExpr(s.End)
	g.Emit(asm.Mov.Reg(asm.R3, asm.R0), asm.LoadMem(asm.R2, asm.R10, start, asm.DWord))
	g.stackPtr(asm.R1, it)
	g.Emit(emit.KfuncCall(newFn))
	head, done := g.NewLabel("for"), g.NewLabel("endfor")
	g.LoopHead(head)
	g.stackPtr(asm.R1, it)
	g.Emit(
		emit.KfuncCall(nextFn),
		asm.JEq.Imm(asm.R0, 0, done),
		asm.LoadMem(asm.R0, asm.R0, 0, asm.Word),
		asm.LSh.Imm(asm.R0, 32),
		asm.ArSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R10, g.varSlot(s.Var.Key()), asm.R0, asm.DWord),
	)
	g.loopBody(s.Body, loop{brk: done, cont: head, iter: it, destroy: destroyFn})
	g.Emit(asm.Ja.Label(head))
	g.Label(done)
	g.stackPtr(asm.R1, it)
	g.Emit(emit.KfuncCall(destroyFn))
}

// jump compiles break, continue and return.
func (g *gen) jump(s *syntax.JumpStmt) {
	if s.Keyword == "return" {
		if s.Value != nil {
			g.intExpr(s.Value)
			g.Emit(asm.StoreMem(asm.R10, g.result, asm.R0, asm.DWord))
		}
		g.returnProbe()
		return
	}
	if len(g.loops) == 0 {
		// The innermost loop is the for over a map this callback is.
		if s.Keyword == "break" {
			g.Emit(asm.Ja.Label(g.cb.brk))
		} else {
			g.Emit(asm.Ja.Label(g.cb.cont))
		}
		return
	}
	l := g.loops[len(g.loops)-1]
	if s.Keyword == "break" {
		g.Emit(asm.Ja.Label(l.brk))
	} else {
		g.Emit(asm.Ja.Label(l.cont))
	}
}

// returnProbe ends the probe: in a callback it tells the caller to end it
// too, and stops the iteration.
func (g *gen) returnProbe() {
	for _, l := range slices.Backward(g.loops) {
		if l.iter != 0 {
			g.stackPtr(asm.R1, l.iter)
			g.Emit(emit.KfuncCall(l.destroy))
		}
	}
	if g.cb == nil {
		g.Emit(asm.Ja.Label("exit"))
		return
	}
	g.Emit(emit.StoreDW(asm.R9, g.cb.flag, flagReturned), asm.Ja.Label(g.cb.brk))
}

// forMap compiles `for ($kv : @map)` as a call of bpf_for_each_map_elem
// with the body as a callback function, appended after the program.
func (g *gen) forMap(s *syntax.ForMapStmt) {
	m := g.plan.Map(s.Map.Name)
	flag := g.alloc(8)
	fn := g.NewLabel("ebt_for")
	g.Emit(emit.StoreDW(asm.R10, flag, 0))
	g.Emit(
		mapPtr(asm.R1, m.BPFName),
		asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference(fn),
		asm.Mov.Reg(asm.R3, asm.R10),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnForEachMapElem.Call(),
		asm.LoadMem(asm.R0, asm.R10, flag, asm.DWord),
	)
	iterated := g.NewLabel("iterated")
	g.Emit(asm.JNE.Imm(asm.R0, flagReturned, iterated))
	g.returnProbe()
	g.Label(iterated)

	cb := &gen{
		Builder: g.Sub(),
		info:    g.info, plan: g.plan, in: g.in, idx: g.idx, opts: g.opts,
		vars: g.vars, diag: g.diag,
		depth: g.varsSize, varsSize: g.varsSize,
		cb: &callback{flag: flag},
	}
	cb.At(s.Sp)
	cb.callbackBody(s, fn)
	g.funcs = append(g.funcs, cb.Insns)
	g.funcs = append(g.funcs, cb.funcs...)
}

// callbackBody compiles the body of s as the callback function named fn:
// long fn(map, key, value, caller's frame).
func (g *gen) callbackBody(s *syntax.ForMapStmt, fn string) {
	g.cb.brk, g.cb.cont = g.NewLabel("stop"), g.NewLabel("next")
	g.Emit(
		btf.WithFuncMetadata(asm.Mov.Reg(asm.R9, asm.R4).WithSymbol(fn), callbackFunc(fn)),
		asm.Mov.Reg(asm.R7, asm.R2),
		asm.Mov.Reg(asm.R8, asm.R3),
	)
	g.copyVars(asm.R10, asm.R9)
	m := g.plan.Map(s.Map.Name)
	kv := g.in.Vars[s.Var.Key()]
	slot := g.varSlot(s.Var.Key())
	g.copyWords(asm.R10, slot, asm.R7, min(m.KeySize, types.SlotSize(kv.Fields()[0])))
	if m.Kind.PerCPU() { // r8 points to this CPU's share only
		key := g.alloc(m.KeySize)
		g.copyWords(asm.R10, key, asm.R7, m.KeySize)
		g.combined(m, key)
		g.Emit(asm.StoreMem(asm.R10, slot+int16(kv.FieldOffset(1)), asm.R0, asm.DWord))
	} else {
		g.copyWords(asm.R10, slot+int16(kv.FieldOffset(1)), asm.R8, min(m.ValueSize, types.SlotSize(kv.Fields()[1])))
	}
	g.block(s.Body)
	g.Label(g.cb.cont)
	g.copyVars(asm.R9, asm.R10)
	g.Emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	g.Label(g.cb.brk)
	g.copyVars(asm.R9, asm.R10)
	g.Emit(asm.Mov.Imm(asm.R0, 1), asm.Return())
}

// copyVars copies the scratch variables' words from the frame src points
// to into the frame dst points to.
func (g *gen) copyVars(dst, src asm.Register) {
	for off := -g.varsSize; off < 0; off += 8 {
		g.Emit(
			asm.LoadMem(asm.R0, src, int16(off), asm.DWord),
			asm.StoreMem(dst, int16(off), asm.R0, asm.DWord),
		)
	}
}

// copyWords copies n bytes (whole words) from src to dst+off through r1.
func (g *gen) copyWords(dst asm.Register, off int16, src asm.Register, n int) {
	for i := 0; i < n; i += 8 {
		g.Emit(
			asm.LoadMem(asm.R1, src, int16(i), asm.DWord),
			asm.StoreMem(dst, off+int16(i), asm.R1, asm.DWord),
		)
	}
}

// The kernel accepts a callback only with BTF function information for
// every function of the program, the callback static.
var (
	btfLong = &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	btfPtr  = &btf.Pointer{Target: &btf.Void{}}
)

func callbackFunc(name string) *btf.Func {
	proto := &btf.FuncProto{Return: btfLong, Params: []btf.FuncParam{
		{Name: "map", Type: btfPtr}, {Name: "key", Type: btfPtr},
		{Name: "value", Type: btfPtr}, {Name: "frame", Type: btfPtr},
	}}
	return &btf.Func{Name: name, Type: proto, Linkage: btf.StaticFunc}
}

func mainFunc() *btf.Func {
	proto := &btf.FuncProto{Return: btfLong, Params: []btf.FuncParam{{Name: "ctx", Type: btfPtr}}}
	return &btf.Func{Name: "ebt_main", Type: proto, Linkage: btf.GlobalFunc}
}
