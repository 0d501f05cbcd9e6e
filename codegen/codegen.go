// Package codegen owns translation to eBPF. Input: checked Info, the Plan
// and one probe instance. Output: that instance's instructions, with map
// references left symbolic (by kernel map name) and every instruction tagged
// with the script position it came from.
//
// Algorithm: a single walk of the probe's AST. r6 holds the context for the
// whole program; every integer expression leaves its value in r0; strings
// live in 8-byte aligned, zero-padded stack buffers and expressions yield the
// buffer's offset. Intermediate values that must survive a helper call are
// spilled to stack slots, which a statement releases when it ends. A probe
// whose frame outgrows the BPF stack keeps it in a per-CPU scratch map
// instead (scratch.go), addressed the same way. Loops jump back to their
// head; the body of a for over a map becomes a callback function appended
// after the program (see loops.go), as does len(@map)'s.
package codegen

import (
	"encoding/binary"
	"maps"
	"slices"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"ebtrace/check"
	"ebtrace/emit"
	"ebtrace/output"
	"ebtrace/plan"
	"ebtrace/probe"
	"ebtrace/source"
	"ebtrace/syntax"
	"ebtrace/types"
)

// StackSize is the BPF stack limit.
const StackSize = 512

// maxJump is the farthest a BPF jump reaches, in instructions (its offset
// is a signed 16-bit field); no jump spans more than the whole program, so
// a program no longer than this has all of them in range.
const maxJump = 1<<15 - 1

// Ring-buffer flags and query selectors (include/uapi/linux/bpf.h).
const (
	rbNoWakeup    = 1
	rbForceWakeup = 2
	rbAvailData   = 0
)

// Options are facts about the target kernel that change the code.
type Options struct {
	// TaskComm is the offset of comm in struct task_struct; when set,
	// comm is read through bpf_get_current_task_btf() rather than the
	// slower bpf_get_current_comm().
	TaskComm int
	// KernelFunc, when set, returns the BTF ID of a kernel function: for
	// over a range then uses the kernel's numeric iterator, which the
	// verifier bounds whatever the range; without it the loop counts
	// itself, and only ranges the verifier can follow load.
	KernelFunc func(name string) (btf.TypeID, error)
	// KeepOnPass makes an event program return 1 when its predicate
	// holds and its body ran, and 0 otherwise: the return value of a
	// BPF filter on a perf event, which drops the sample on 0.
	KeepOnPass bool
}

// Generate compiles instance idx of info.
func Generate(info *check.Info, p *plan.Plan, idx int, opts Options) (asm.Instructions, error) {
	in := info.Instances[idx]
	g := &gen{
		Builder: emit.New(info.Program.File),
		info:    info, plan: p, in: in, idx: idx, opts: opts,
		vars: map[string]int16{},
		diag: &source.Diagnostics{File: info.Program.File},
	}
	g.At(in.Probe.Sp)
	g.Emit(asm.Mov.Reg(asm.R6, asm.R1))
	if in.Instance.Kind() == probe.Event {
		// Once tracing ends, event programs do nothing while the links
		// are being closed (which takes the kernel a grace period each).
		g.loadConfig(asm.R1, plan.ConfigStopped)
		g.Emit(asm.JNE.Imm(asm.R1, 0, "exit"))
	}
	g.allocVars()
	g.varsSize = g.depth
	if in.Probe.Pred != nil {
		g.At(in.Probe.Pred.Span())
		g.intExpr(in.Probe.Pred)
		g.Emit(asm.JEq.Imm(asm.R0, 0, "exit"))
	}
	g.block(in.Probe.Body)
	if opts.KeepOnPass {
		g.Emit(asm.Mov.Imm(asm.R0, 1), asm.Return())
	}
	g.Label("exit")
	g.Emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	if g.maxDepth > StackSize {
		g.moveFrameToScratch()
	}
	if n := g.Insns.Size() / asm.InstructionSize; n > maxJump {
		g.diag.Add(in.Probe.Sp, "too-large", "this probe compiles to %d BPF instructions; jumps within a program reach at most %d", n, maxJump).
			Hint("split the work across several probes, or compare shorter strings")
	}
	if err := g.diag.Err(); err != nil {
		return nil, err
	}
	// Callbacks are functions of their own, with their own frames: they
	// are appended after the probe's frame may have moved.
	if len(g.funcs) > 0 {
		g.Insns[0] = btf.WithFuncMetadata(g.Insns[0], mainFunc())
		for _, f := range g.funcs {
			g.Insns = append(g.Insns, f...)
		}
	}
	return g.Insns, nil
}

type gen struct {
	*emit.Builder
	opts  Options
	info  *check.Info
	plan  *plan.Plan
	in    *check.Instance
	idx   int
	depth int // bytes of stack in use
	// maxDepth is the most stack in use at once: beyond StackSize, the
	// frame moves to the scratch map.
	maxDepth int
	vars     map[string]int16
	diag     *source.Diagnostics

	varsSize int                // bytes of stack the scratch variables take, from r10 down
	loops    []loop             // enclosing while and for loops, innermost last
	cb       *callback          // the for over a map whose body this is; nil in the probe
	funcs    []asm.Instructions // callbacks, appended after the program
}

// alloc reserves n bytes of the frame (rounded up to 8) and returns the
// offset from r10. On overflow it reports once and returns a valid dummy
// slot.
func (g *gen) alloc(n int) int16 {
	g.depth += types.Align8(n)
	g.maxDepth = max(g.maxDepth, g.depth)
	if g.depth > ScratchSize {
		if len(g.diag.Items) == 0 {
			g.diag.Add(g.Pos, "stack", "this probe needs more than %d bytes for its values", ScratchSize).
				Hint("use fewer or shorter strings (str(p, N), max_strlen) in one probe")
		}
		return -8
	}
	return int16(-g.depth)
}

func (g *gen) block(b *syntax.Block) {
	for _, s := range b.Stmts {
		g.stmt(s)
	}
}

func (g *gen) stmt(s syntax.Stmt) {
	mark := g.depth
	defer func() { g.depth = mark }()
	g.At(s.Span())
	switch s := s.(type) {
	case *syntax.Block:
		g.block(s)
	case *syntax.IfStmt:
		elseL, endL := g.NewLabel("else"), g.NewLabel("endif")
		g.intExpr(s.Cond)
		g.Emit(asm.JEq.Imm(asm.R0, 0, elseL))
		g.block(s.Then)
		g.Emit(asm.Ja.Label(endL))
		g.Label(elseL)
		if s.Else != nil {
			g.stmt(s.Else)
		}
		g.Label(endL)
	case *syntax.ExprStmt:
		switch g.typeOf(s.X).Kind {
		case types.Str:
			g.strExpr(s.X)
		case types.Tuple:
			g.tupleExpr(s.X)
		default:
			g.intExpr(s.X)
		}
	case *syntax.AssignStmt:
		g.assign(s)
	case *syntax.WhileStmt, *syntax.UnrollStmt, *syntax.ForRangeStmt, *syntax.ForMapStmt, *syntax.JumpStmt:
		g.loopStmt(s)
	}
}

func (g *gen) typeOf(e syntax.Expr) types.Type { return g.in.Types[e] }

func (g *gen) assign(s *syntax.AssignStmt) {
	switch target := s.Target.(type) {
	case *syntax.VarExpr:
		t := g.in.Vars[target.Name]
		slot := g.varSlot(target.Name)
		if t.Kind == types.Str {
			g.strTo(s.Value, slot, t.Size)
			return
		}
		if t.Kind == types.Text {
			g.textTo(s.Value, slot, t)
			return
		}
		if t.Kind == types.Tuple {
			g.assignTuple(s.Value, slot, t)
			return
		}
		g.intExpr(s.Value)
		if s.Op != "=" {
			g.Emit(asm.Mov.Reg(asm.R1, asm.R0), asm.LoadMem(asm.R0, asm.R10, slot, asm.DWord))
			g.arith(compound(s.Op), asm.R0, asm.R1, t.Signed)
		}
		g.Emit(asm.StoreMem(asm.R10, slot, asm.R0, asm.DWord))
	case *syntax.MapExpr:
		m := g.plan.Map(target.Name)
		if call, ok := s.Value.(*syntax.CallExpr); ok && m.Kind != output.Scalar && m.Kind != output.String {
			g.aggregate(target, m, call)
			return
		}
		if s.Op != "=" {
			g.intExpr(s.Value)
			if s.Op == "+=" || s.Op == "-=" {
				if s.Op == "-=" {
					g.Emit(asm.Neg.Imm(asm.R0, 0))
				}
				g.mapAdd(target, m)
				return
			}
			g.mapUpdateInPlace(target, m, compound(s.Op))
			return
		}
		val := g.alloc(m.ValueSize)
		if m.Kind == output.String {
			g.valueTo(s.Value, val, m.ValueType)
		} else {
			g.intExpr(s.Value)
			g.Emit(asm.StoreMem(asm.R10, val, asm.R0, asm.DWord))
		}
		key := g.key(target, m)
		g.update(m, key, val)
	}
}

func compound(op string) string { return op[:len(op)-1] }

// varSlot returns the stack slot of a scratch variable. Variables live
// for the whole probe: Generate reserves and zeroes their slots first.
func (g *gen) varSlot(name string) int16 { return g.vars[name] }

// allocVars reserves a zeroed slot for every scratch variable of the probe.
func (g *gen) allocVars() {
	for _, name := range slices.Sorted(maps.Keys(g.in.Vars)) {
		size := plan.PartSize(g.in.Vars[name])
		off := g.alloc(size)
		g.zero(off, size)
		g.vars[name] = off
	}
}

// zero clears size bytes (a multiple of 8) of stack at off.
func (g *gen) zero(off int16, size int) {
	for i := 0; i < size; i += 8 {
		g.Emit(stDW(asm.R10, off+int16(i), 0))
	}
}

// copyStr copies the string at src (a buffer for srcSize bytes) into the
// buffer at dst (dstSize bytes). Buffers occupy whole 8-byte words and are
// canonical: zero from the first NUL to the end. A longer source is
// truncated to dstSize-1 characters, keeping the destination canonical.
func (g *gen) copyStr(dst int16, dstSize int, src int16, srcSize int) {
	if dst == src {
		return
	}
	words, srcWords := types.Align8(dstSize), types.Align8(srcSize)
	n := min(words, srcWords)
	for i := 0; i < n; i += 8 {
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, src+int16(i), asm.DWord),
			asm.StoreMem(asm.R10, dst+int16(i), asm.R1, asm.DWord),
		)
	}
	if n < words {
		g.zero(dst+int16(n), words-n)
	}
	if srcSize > dstSize {
		for i := dstSize - 1; i < words; i++ {
			g.Emit(asm.StoreImm(asm.R10, dst+int16(i), 0, asm.Byte))
		}
	}
}

// storeConst writes the bytes of s, NUL-padded to size, at off.
func (g *gen) storeConst(off int16, s string, size int) {
	buf := make([]byte, types.Align8(size))
	copy(buf, s)
	for i := 0; i < len(buf); i += 8 {
		v := binary.LittleEndian.Uint64(buf[i:])
		if v == 0 {
			g.Emit(stDW(asm.R10, off+int16(i), 0))
			continue
		}
		g.Emit(
			asm.LoadImm(asm.R1, int64(v), asm.DWord),
			asm.StoreMem(asm.R10, off+int16(i), asm.R1, asm.DWord),
		)
	}
}

// mapPtr loads a map's address into reg.
func mapPtr(reg asm.Register, name string) asm.Instruction {
	return asm.LoadMapPtr(reg, 0).WithReference(name)
}

// stackPtr points reg at a stack offset.
func (g *gen) stackPtr(reg asm.Register, off int16) {
	g.Emit(asm.Mov.Reg(reg, asm.R10), asm.Add.Imm(reg, int32(off)))
}

// countStat atomically adds one to a StatsMap counter.
func (g *gen) countStat(index int) {
	g.Emit(
		asm.LoadMapValue(asm.R1, 0, uint32(index*8)).WithReference(plan.StatsMap),
		asm.Mov.Imm(asm.R2, 1),
		asm.StoreXAdd(asm.R1, asm.R2, asm.DWord),
	)
}

// key builds m's key for e in a new stack buffer and returns its offset.
// Histograms leave the trailing bucket slot for the caller.
func (g *gen) key(e *syntax.MapExpr, m *plan.Map) int16 {
	off := g.alloc(m.KeySize)
	if len(m.Keys) == 0 {
		g.zero(off, m.KeySize)
		return off
	}
	if len(e.Keys) == 1 && g.typeOf(e.Keys[0]).Kind == types.Tuple {
		g.keyTuple(e.Keys[0], off, m)
		return off
	}
	for i, k := range e.Keys {
		part := m.Keys[i]
		g.valueTo(k, off+int16(part.Offset), part.Type)
	}
	return off
}

// valueTo writes the value of e into a record part of type t at dst: a
// key part, a printf argument or a map value.
func (g *gen) valueTo(e syntax.Expr, dst int16, t types.Type) {
	switch t.Kind {
	case types.Str:
		g.strTo(e, dst, t.Size)
		return
	case types.Stack:
		g.stackID(e, dst)
		return
	case types.Buf:
		g.bufTo(e, dst, t)
		return
	case types.Text:
		g.textTo(e, dst, t)
		return
	case types.Tuple:
		g.tupleTo(e, dst, t)
		return
	}
	g.intExpr(e)
	g.Emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
	if t.Size == 16 { // a user address is resolved in its process
		g.storePid(dst + 8)
	}
}

// bpfFUserStack asks bpf_get_stackid for the user stack.
const bpfFUserStack = 1 << 8

// stackID records the stack e names in its stack map and writes the id
// at dst; a user stack's pid follows. A stack the kernel cannot record
// (map full, hash collision) gets a negative id and is counted.
func (g *gen) stackID(e syntax.Expr, dst int16) {
	t := g.typeOf(e)
	sm := g.plan.StackMap(t)
	flags := int32(0)
	if sm.User {
		flags = bpfFUserStack
	}
	ok := g.NewLabel("stacked")
	g.Emit(
		asm.Mov.Reg(asm.R1, asm.R6),
		mapPtr(asm.R2, sm.Name),
		asm.Mov.Imm(asm.R3, flags),
		asm.FnGetStackid.Call(),
		asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord),
		asm.JSGE.Imm(asm.R0, 0, ok),
	)
	g.countStat(plan.StatStacks)
	g.Label(ok)
	if sm.User {
		g.storePid(dst + 8)
	}
}

func (g *gen) storePid(dst int16) {
	g.Emit(
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord),
	)
}

// lookup leaves a pointer to m's value for the key at key in r0, or 0.
func (g *gen) lookup(m *plan.Map, key int16) {
	g.Emit(mapPtr(asm.R1, m.BPFName))
	g.stackPtr(asm.R2, key)
	g.Emit(asm.FnMapLookupElem.Call())
}

// update stores the value at val under the key at key, counting failures
// (a full map) in the map's stat.
func (g *gen) update(m *plan.Map, key, val int16) {
	ok := g.NewLabel("updated")
	g.Emit(mapPtr(asm.R1, m.BPFName))
	g.stackPtr(asm.R2, key)
	g.stackPtr(asm.R3, val)
	g.Emit(asm.Mov.Imm(asm.R4, 0), asm.FnMapUpdateElem.Call(), asm.JEq.Imm(asm.R0, 0, ok))
	g.countStat(m.Stat)
	if id, report := g.plan.HelperErrorEvent(); report {
		g.reportHelper(id, asm.FnMapUpdateElem) // r0: the error; countStat keeps it
	}
	g.Label(ok)
}

// mapAdd adds r0 to the integer map element e: atomically in place when it
// exists, with an update when it does not.
func (g *gen) mapAdd(e *syntax.MapExpr, m *plan.Map) {
	val := g.alloc(8)
	g.Emit(asm.StoreMem(asm.R10, val, asm.R0, asm.DWord))
	key := g.key(e, m)
	g.lookup(m, key)
	miss, done := g.NewLabel("miss"), g.NewLabel("added")
	g.Emit(
		asm.JEq.Imm(asm.R0, 0, miss),
		asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Ja.Label(done),
	)
	g.Label(miss)
	g.update(m, key, val)
	g.Label(done)
}

// mapUpdateInPlace applies `element op= r0` to an integer map element.
func (g *gen) mapUpdateInPlace(e *syntax.MapExpr, m *plan.Map, op string) {
	val := g.alloc(8)
	g.Emit(asm.StoreMem(asm.R10, val, asm.R0, asm.DWord))
	key := g.key(e, m)
	g.lookup(m, key)
	miss, store := g.NewLabel("miss"), g.NewLabel("store")
	g.Emit(
		asm.JEq.Imm(asm.R0, 0, miss),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R0, asm.R7, 0, asm.DWord),
		asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
	)
	g.arith(op, asm.R0, asm.R1, true)
	g.Emit(asm.StoreMem(asm.R7, 0, asm.R0, asm.DWord), asm.Ja.Label(store))
	g.Label(miss)
	// A missing element counts as 0.
	g.Emit(asm.Mov.Imm(asm.R0, 0), asm.LoadMem(asm.R1, asm.R10, val, asm.DWord))
	g.arith(op, asm.R0, asm.R1, true)
	g.Emit(asm.StoreMem(asm.R10, val, asm.R0, asm.DWord))
	g.update(m, key, val)
	g.Label(store)
}

// aggregate compiles `@m[k] = f(x)` for the per-CPU aggregations: the
// element is updated in place when it exists (no update call), and created
// with the first value when it does not.
func (g *gen) aggregate(e *syntax.MapExpr, m *plan.Map, call *syntax.CallExpr) {
	val := g.alloc(m.ValueSize)
	if len(call.Args) > 0 {
		g.intExpr(call.Args[0])
	} else {
		g.Emit(asm.Mov.Imm(asm.R0, 1))
	}
	g.Emit(asm.StoreMem(asm.R10, val, asm.R0, asm.DWord))
	key := g.key(e, m)
	if m.Kind == output.Hist || m.Kind == output.LHist {
		g.Emit(asm.LoadMem(asm.R0, asm.R10, val, asm.DWord))
		if m.Kind == output.Hist {
			g.log2Bucket()
		} else {
			g.linearBucket(m)
		}
		g.Emit(asm.StoreMem(asm.R10, key+int16(m.KeySize-8), asm.R0, asm.DWord))
		g.Emit(stDW(asm.R10, val, 1))
	}
	g.lookup(m, key)
	miss, done := g.NewLabel("miss"), g.NewLabel("aggregated")
	g.Emit(asm.JEq.Imm(asm.R0, 0, miss))
	// r0: this CPU's value; r1: the new sample.
	switch m.Kind {
	case output.Count, output.Hist, output.LHist:
		g.Emit(
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R2, 1),
			asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
		)
	case output.Sum:
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
		)
	case output.Avg, output.Stats:
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R2, 1),
			asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.R0, 8, asm.R2, asm.DWord),
		)
	case output.Min, output.Max:
		set := g.NewLabel("set")
		cmp := asm.JSLE
		if m.Kind == output.Max {
			cmp = asm.JSGE
		}
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord),
			asm.JEq.Imm(asm.R2, 0, set),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			cmp.Reg(asm.R2, asm.R1, done),
		)
		g.Label(set)
		g.Emit(
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
			stDW(asm.R0, 8, 1),
		)
	}
	g.Emit(asm.Ja.Label(done))
	g.Label(miss)
	switch m.Kind {
	case output.Avg, output.Stats:
		// {count 1, total x}
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, val, asm.DWord),
			asm.StoreMem(asm.R10, val+8, asm.R1, asm.DWord),
			stDW(asm.R10, val, 1),
		)
	case output.Min, output.Max:
		g.Emit(stDW(asm.R10, val+8, 1))
	}
	g.update(m, key, val)
	g.Label(done)
}

// log2Bucket maps r0 to its log2 histogram bucket: 0 for negative values,
// 1 for 0, and 2+floor(log2(v)) otherwise.
func (g *gen) log2Bucket() {
	neg, zero, done := g.NewLabel("neg"), g.NewLabel("zero"), g.NewLabel("bucket")
	g.Emit(
		asm.JSLT.Imm(asm.R0, 0, neg),
		asm.JEq.Imm(asm.R0, 0, zero),
		asm.Mov.Imm(asm.R1, 2),
	)
	for _, shift := range []int32{32, 16, 8, 4, 2, 1} {
		skip := g.NewLabel("log2")
		g.Emit(
			asm.Mov.Reg(asm.R2, asm.R0),
			asm.RSh.Imm(asm.R2, shift),
			asm.JEq.Imm(asm.R2, 0, skip),
			asm.Mov.Reg(asm.R0, asm.R2),
			asm.Add.Imm(asm.R1, shift),
		)
		g.Label(skip)
	}
	g.Emit(asm.Mov.Reg(asm.R0, asm.R1), asm.Ja.Label(done))
	g.Label(neg)
	g.Emit(asm.Mov.Imm(asm.R0, 0), asm.Ja.Label(done))
	g.Label(zero)
	g.Emit(asm.Mov.Imm(asm.R0, 1))
	g.Label(done)
}

// linearBucket maps r0 to its lhist bucket (see output.HistValue).
func (g *gen) linearBucket(m *plan.Map) {
	below, above, done := g.NewLabel("below"), g.NewLabel("above"), g.NewLabel("bucket")
	g.Emit(
		asm.LoadImm(asm.R1, m.LMin, asm.DWord),
		asm.JSLT.Reg(asm.R0, asm.R1, below),
		asm.LoadImm(asm.R1, m.LMax, asm.DWord),
		asm.JSGE.Reg(asm.R0, asm.R1, above),
		asm.LoadImm(asm.R1, m.LMin, asm.DWord),
		asm.Sub.Reg(asm.R0, asm.R1),
		asm.LoadImm(asm.R1, m.LStep, asm.DWord),
		asm.Div.Reg(asm.R0, asm.R1),
		asm.Add.Imm(asm.R0, 1),
		asm.Ja.Label(done),
	)
	g.Label(below)
	g.Emit(asm.Mov.Imm(asm.R0, 0), asm.Ja.Label(done))
	g.Label(above)
	g.Emit(asm.LoadImm(asm.R0, 1+(m.LMax-m.LMin)/m.LStep, asm.DWord))
	g.Label(done)
}

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
	switch e := e.(type) {
	case *syntax.IntLit:
		g.Emit(asm.LoadImm(asm.R0, int64(e.Value), asm.DWord))
	case *syntax.Ident:
		if a, ok := g.in.Args[e]; ok {
			g.loadArg(a)
			return
		}
		if v, ok := g.info.Consts[e]; ok { // a kernel enum constant
			g.Emit(asm.LoadImm(asm.R0, int64(v), asm.DWord))
			return
		}
		g.builtin(e.Name)
	case *syntax.VarExpr:
		g.Emit(asm.LoadMem(asm.R0, asm.R10, g.varSlot(e.Name), asm.DWord))
	case *syntax.ParamExpr:
		g.Emit(asm.LoadImm(asm.R0, g.info.ParamInt(e.N), asm.DWord))
	case *syntax.MapExpr:
		m := g.plan.Map(e.Name)
		key := g.key(e, m)
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
		elseL, end := g.NewLabel("else"), g.NewLabel("cond")
		g.intExpr(e.Cond)
		g.Emit(asm.JEq.Imm(asm.R0, 0, elseL))
		g.intExpr(e.Then)
		g.Emit(asm.Ja.Label(end))
		g.Label(elseL)
		g.intExpr(e.Else)
		g.Label(end)
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
	case "pid":
		g.Emit(asm.FnGetCurrentPidTgid.Call(), asm.RSh.Imm(asm.R0, 32))
	case "tid":
		g.Emit(asm.FnGetCurrentPidTgid.Call(), asm.Mov.Reg32(asm.R0, asm.R0))
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
	case "true":
		g.Emit(asm.Mov.Imm(asm.R0, 1))
	case "false":
		g.Emit(asm.Mov.Imm(asm.R0, 0))
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
		g.Emit(stDW(asm.R10, tmp, 0))
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
	if e.Op == "--" {
		delta = -1
	}
	switch x := e.X.(type) {
	case *syntax.VarExpr:
		slot := g.varSlot(x.Name)
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
		g.Emit(stDW(asm.R10, val, int64(delta)))
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
	if x.Kind == types.Str {
		g.strCompare(e)
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

// strCompare compares two strings a word at a time. Buffers are canonical
// (zero after the first NUL, which every buffer holds), so two strings are
// equal exactly when the words of the shorter buffer and the same words of
// the longer one are: one branch per 8 bytes keeps long comparisons within
// the verifier's limits on branches.
func (g *gen) strCompare(e *syntax.BinaryExpr) {
	a, an := g.strExpr(e.X)
	b, bn := g.strExpr(e.Y)
	n := min(an, bn)
	differ, end := g.NewLabel("differ"), g.NewLabel("strcmp")
	for i := 0; i < n; i += 8 {
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, a+int16(i), asm.DWord),
			asm.LoadMem(asm.R2, asm.R10, b+int16(i), asm.DWord),
			asm.JNE.Reg(asm.R1, asm.R2, differ),
		)
	}
	eq, ne := int32(1), int32(0)
	if e.Op == "!=" {
		eq, ne = 0, 1
	}
	g.Emit(asm.Mov.Imm(asm.R0, eq), asm.Ja.Label(end))
	g.Label(differ)
	g.Emit(asm.Mov.Imm(asm.R0, ne))
	g.Label(end)
}

// strExpr evaluates a string expression into a stack buffer and returns
// its offset and size.
func (g *gen) strExpr(e syntax.Expr) (int16, int) {
	t := g.typeOf(e)
	size := types.Align8(t.Size)
	switch e := e.(type) {
	case *syntax.StringLit:
		off := g.alloc(size)
		g.storeConst(off, e.Value, size)
		return off, size
	case *syntax.Ident:
		off := g.alloc(size)
		if a, ok := g.in.Args[e]; ok {
			g.storeConst(off, a.Text, size)
			return off, size
		}
		if e.Name == "probe" {
			g.storeConst(off, g.in.Instance.Name(), size)
			return off, size
		}
		g.comm(off, size)
		return off, size
	case *syntax.VarExpr:
		return g.varSlot(e.Name), size
	case *syntax.ParamExpr:
		off := g.alloc(size)
		g.storeConst(off, g.info.Param(e.N)[:t.Size-1], size)
		return off, size
	case *syntax.MapExpr:
		off := g.alloc(size)
		g.readMapValue(e, off, size)
		return off, size
	case *syntax.FieldExpr:
		if check.InMemory(e, g.in) {
			return g.memoryString(e, size)
		}
		return g.strArg(g.in.Args[e], size)
	case *syntax.IndexExpr:
		return g.memoryString(e, size)
	case *syntax.TupleIndex:
		off, _ := g.tupleExpr(e)
		return off, size
	case *syntax.CallExpr:
		if e.Fun != "str" {
			off := g.alloc(size)
			g.libraryValue(e, off)
			return off, size
		}
		arg := e.Args[0]
		if at := g.typeOf(arg); at.Kind == types.Str {
			src, n := g.strExpr(arg)
			if t.Size >= at.Size {
				return src, n
			}
			off := g.alloc(size)
			g.copyStr(off, t.Size, src, at.Size)
			return off, size
		}
		off := g.alloc(size)
		g.readStr(arg, off, size, t.Size)
		return off, size
	case *syntax.CondExpr:
		off := g.alloc(size)
		elseL, end := g.NewLabel("else"), g.NewLabel("cond")
		g.intExpr(e.Cond)
		g.Emit(asm.JEq.Imm(asm.R0, 0, elseL))
		src, n := g.strExpr(e.Then)
		g.copyStr(off, size, src, n)
		g.Emit(asm.Ja.Label(end))
		g.Label(elseL)
		src, n = g.strExpr(e.Else)
		g.copyStr(off, size, src, n)
		g.Label(end)
		return off, size
	}
	off := g.alloc(size)
	g.zero(off, size)
	return off, size
}

// readMapValue copies size bytes of the value of map element e to dst;
// a missing element reads as zeros.
func (g *gen) readMapValue(e *syntax.MapExpr, dst int16, size int) {
	m := g.plan.Map(e.Name)
	key := g.key(e, m)
	g.zero(dst, size)
	g.lookup(m, key)
	done := g.NewLabel("read")
	g.Emit(asm.JEq.Imm(asm.R0, 0, done))
	for i := 0; i < size; i += 8 {
		g.Emit(
			asm.LoadMem(asm.R1, asm.R0, int16(i), asm.DWord),
			asm.StoreMem(asm.R10, dst+int16(i), asm.R1, asm.DWord),
		)
	}
	g.Label(done)
}

// strTo evaluates a string expression into the buffer at dst (dstSize
// bytes). Strings that come from a helper or a constant are written there
// directly; others are built in their own buffer and copied.
func (g *gen) strTo(e syntax.Expr, dst int16, dstSize int) {
	t := g.typeOf(e)
	switch e := e.(type) {
	case *syntax.StringLit:
		if t.Size <= dstSize {
			g.storeConst(dst, e.Value, dstSize)
			return
		}
	case *syntax.Ident:
		if e.Name == "comm" && t.Size <= dstSize {
			g.comm(dst, dstSize)
			return
		}
	case *syntax.CallExpr:
		if arg := e.Args[0]; e.Fun == "str" && g.typeOf(arg).Kind == types.Ptr && t.Size <= dstSize {
			g.readStr(arg, dst, dstSize, t.Size)
			return
		}
	}
	src, size := g.strExpr(e)
	g.copyStr(dst, dstSize, src, size)
}

// readStr reads at most n bytes of the NUL-terminated string that the
// pointer expression ptr points to into the zeroed buffer at dst (size
// bytes), with the probe-read helper of ptr's address space.
func (g *gen) readStr(ptr syntax.Expr, dst int16, size, n int) {
	g.intExpr(ptr)
	if t := g.typeOf(ptr); t.Kind == types.Ptr {
		g.readStrAt(dst, size, n, t.AddrSpace)
		return
	}
	// An integer says nothing of its address space: kernel memory is
	// tried first, then, where that read fails (an address below the
	// kernel's, which it refuses), user memory.
	addr := g.spill()
	g.readStrWith(dst, size, n, asm.FnProbeReadKernelStr)
	read := g.NewLabel("str_read")
	g.Emit(asm.JSGE.Imm(asm.R0, 0, read), asm.LoadMem(asm.R0, asm.R10, addr, asm.DWord))
	g.readStrAt(dst, size, n, types.User)
	g.Label(read)
}

// readStrAt reads at most n bytes of the NUL-terminated string at the
// address in r0, in space, into the zeroed buffer at dst (size bytes).
func (g *gen) readStrAt(dst int16, size, n int, space types.AddrSpace) {
	fn := asm.FnProbeReadKernelStr
	if space == types.User {
		fn = asm.FnProbeReadUserStr
	}
	g.readStrWith(dst, size, n, fn)
	g.checkHelper(fn)
}

// readStrWith reads the string at the address in r0 with helper fn,
// leaving its result in r0.
func (g *gen) readStrWith(dst int16, size, n int, fn asm.BuiltinFunc) {
	g.Emit(asm.Mov.Reg(asm.R3, asm.R0))
	g.zero(dst, types.Align8(size))
	g.stackPtr(asm.R1, dst)
	g.Emit(asm.Mov.Imm(asm.R2, int32(n)), fn.Call())
}

// comm writes the current task's name, 16 bytes zero-padded by the kernel,
// into the buffer at dst (size bytes, at least 16).
func (g *gen) comm(dst int16, size int) {
	if size > 16 {
		g.zero(dst+16, types.Align8(size)-16)
	}
	if g.opts.TaskComm == 0 {
		g.zero(dst, 16)
		g.stackPtr(asm.R1, dst)
		g.Emit(asm.Mov.Imm(asm.R2, 16), asm.FnGetCurrentComm.Call())
		return
	}
	off := int16(g.opts.TaskComm)
	g.Emit(
		asm.FnGetCurrentTaskBtf.Call(),
		asm.LoadMem(asm.R1, asm.R0, off, asm.DWord),
		asm.StoreMem(asm.R10, dst, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.R0, off+8, asm.DWord),
		asm.StoreMem(asm.R10, dst+8, asm.R1, asm.DWord),
	)
}

// strArg reads a string argument: an inline char array or a __data_loc.
func (g *gen) strArg(a probe.Arg, size int) (int16, int) {
	off := g.alloc(size)
	g.zero(off, size)
	if a.DataLoc {
		// u32 at Offset: length << 16 | offset from the context start.
		g.Emit(
			asm.LoadMem(asm.R3, asm.R6, int16(a.Offset), asm.Word),
			asm.And.Imm(asm.R3, 0xffff),
			asm.Add.Reg(asm.R3, asm.R6),
		)
		if a.RelLoc {
			g.Emit(asm.Add.Imm(asm.R3, int32(a.Offset+4)))
		}
	} else {
		g.Emit(asm.Mov.Reg(asm.R3, asm.R6), asm.Add.Imm(asm.R3, int32(a.Offset)))
	}
	// The _str read stops at the NUL (an inline array may have bytes
	// after it), keeping the buffer canonical for comparisons.
	g.stackPtr(asm.R1, off)
	g.Emit(asm.Mov.Imm(asm.R2, int32(a.Type.Size)), asm.FnProbeReadKernelStr.Call())
	return off, size
}

// call compiles the non-aggregating functions.
func (g *gen) call(e *syntax.CallExpr) {
	switch e.Fun {
	case "printf":
		g.printf(e)
	case "exit":
		g.event(e, nil, true)
		g.returnProbe()
	case "print":
		if ev, ok := g.plan.Sites[plan.Site{Instance: g.idx, Call: e}]; ok && g.plan.Events[ev].Kind == plan.PrintValue {
			g.printValue(e)
			return
		}
		g.event(e, nil, true)
	case "clear", "zero":
		g.event(e, nil, true)
	case "errorf", "warnf", "system", "cat":
		g.printf(e)
	case "join":
		g.join(e)
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
	case "delete":
		x := e.Args[0].(*syntax.MapExpr)
		m := g.plan.Map(x.Name)
		key := g.key(x, m)
		g.Emit(mapPtr(asm.R1, m.BPFName))
		g.stackPtr(asm.R2, key)
		g.Emit(asm.FnMapDeleteElem.Call())
	default:
		g.libraryCall(e)
	}
}

func (g *gen) printf(e *syntax.CallExpr) {
	g.event(e, func(ev *plan.Event, buf int16) {
		for i, a := range e.Args[1:] {
			part := ev.Args[i]
			g.valueTo(a, buf+int16(part.Offset), part.Type)
		}
	}, false)
}

// event builds the record of call site e on the stack (header, then what
// fill writes, if anything) and sends it through the ring buffer. An urgent
// record wakes the reader at once; others only once a quarter of the ring
// is queued, the reader polling on a short timer otherwise. A record the
// ring refuses is counted as lost.
func (g *gen) event(e *syntax.CallExpr, fill func(ev *plan.Event, buf int16), urgent bool) {
	id, ok := g.plan.Sites[plan.Site{Instance: g.idx, Call: e}]
	if !ok {
		return
	}
	ev := g.plan.Events[id]
	buf := g.alloc(ev.Size)
	g.Emit(stDW(asm.R10, buf, int64(id)))
	if fill != nil {
		fill(ev, buf)
	}
	if !urgent {
		quiet := g.NewLabel("quiet")
		g.Emit(
			mapPtr(asm.R1, plan.EventsMap),
			asm.Mov.Imm(asm.R2, rbAvailData),
			asm.FnRingbufQuery.Call(),
			asm.Mov.Imm(asm.R4, rbNoWakeup),
			asm.LoadImm(asm.R1, int64(g.plan.WakeupSize), asm.DWord),
			asm.JLT.Reg(asm.R0, asm.R1, quiet),
			asm.Mov.Imm(asm.R4, rbForceWakeup),
		)
		g.Label(quiet)
	} else {
		g.Emit(asm.Mov.Imm(asm.R4, rbForceWakeup))
	}
	sent := g.NewLabel("sent")
	g.Emit(mapPtr(asm.R1, plan.EventsMap))
	g.stackPtr(asm.R2, buf)
	g.Emit(
		asm.Mov.Imm(asm.R3, int32(ev.Size)),
		asm.FnRingbufOutput.Call(),
		asm.JEq.Imm(asm.R0, 0, sent),
	)
	g.countStat(plan.StatLost)
	g.Label(sent)
}

// stDW stores a sign-extended 32-bit immediate as 8 bytes. asm.StoreImm
// refuses DWord, but BPF_ST|BPF_DW|BPF_MEM is valid and saves a register.
func stDW(dst asm.Register, off int16, v int64) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: dst, Offset: off, Constant: v}
}

// fetchAdd atomically adds src to *dst and leaves the old value in src.
// cilium/ebpf v0.22's Marshal writes an atomic instruction's immediate from
// Constant as it was before it derives the atomic op, so the BPF_FETCH bit
// is lost unless Constant already holds it.
func fetchAdd(dst, src asm.Register) asm.Instruction {
	ins := asm.FetchAdd.Mem(dst, src, asm.DWord, 0)
	ins.Constant = int64(asm.FetchAdd >> 8)
	return ins
}
