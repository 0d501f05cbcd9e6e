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
	"maps"
	"slices"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// StackSize is the BPF stack limit.
const StackSize = 512

// maxJump is the farthest a BPF jump reaches, in instructions (its offset
// is a signed 16-bit field); no jump spans more than the whole program, so
// a program no longer than this has all of them in range.
const maxJump = 1<<15 - 1

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
	// CPUs is the number of possible CPUs: reading a per-CPU aggregation
	// combines the value of each.
	CPUs int
	// PIDNamespace, when set, is the PID namespace ebtrace runs in, when
	// that is not the initial one: pid and tid are then the numbers it
	// sees (see Namespace).
	PIDNamespace *Namespace
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
	if in.Instance.Kind() == probe.Event && (in.Probe.Pred != nil || len(in.Probe.Body.Stmts) > 0) {
		// Once tracing ends, event programs do nothing while the links
		// are being closed (which takes the kernel a grace period each).
		// An empty probe does nothing anyway.
		g.loadConfig(asm.R1, plan.ConfigStopped)
		g.Emit(asm.JNE.Imm(asm.R1, 0, "exit"))
	}
	g.allocVars()
	g.varsSize = g.depth
	if in.Instance.Kind() == probe.Test {
		// A test probe's result: 0 unless it returns a value.
		g.result = g.alloc(8)
		g.Emit(emit.StoreDW(asm.R10, g.result, 0))
	}
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
	if g.result != 0 {
		g.Emit(asm.LoadMem(asm.R0, asm.R10, g.result, asm.DWord), asm.Return())
	} else {
		g.Emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	}
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
	result   int16              // a test probe's slot for its return value; 0 elsewhere
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

// valueOf returns the expression that gives e's value: the expression e
// stands for (Instance.Rewrites), the value of a block used as a value
// after running its statements, or e itself.
func (g *gen) valueOf(e syntax.Expr) syntax.Expr {
	if x, ok := g.in.Rewrites[e]; ok {
		return g.valueOf(x)
	}
	b, ok := e.(*syntax.BlockExpr)
	if !ok {
		return e
	}
	for _, s := range b.Body() {
		g.stmt(s)
	}
	return g.valueOf(b.Value())
}

func (g *gen) stmt(s syntax.Stmt) {
	mark := g.depth
	defer func() { g.depth = mark }()
	g.At(s.Span())
	switch s := s.(type) {
	case *syntax.Block:
		g.block(s)
	case *syntax.IfStmt:
		g.branch(s.Cond, "endif", func() { g.block(s.Then) }, func() {
			if s.Else != nil {
				g.stmt(s.Else)
			}
		})
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
	case *syntax.LetStmt:
		if s.Value != nil {
			g.assign(&syntax.AssignStmt{Target: s.Var, Op: "=", Value: s.Value})
			return
		}
		size := plan.PartSize(g.in.Vars[s.Var.Key()])
		g.zero(g.varSlot(s.Var.Key()), size)
	case *syntax.WhileStmt, *syntax.UnrollStmt, *syntax.ForRangeStmt, *syntax.ForMapStmt, *syntax.JumpStmt:
		g.loopStmt(s)
	}
}

// branch runs then where cond holds and otherwise where it does not; end
// names the label after both.
func (g *gen) branch(cond syntax.Expr, end string, then, otherwise func()) {
	elseL, endL := g.NewLabel("else"), g.NewLabel(end)
	g.intExpr(cond)
	g.Emit(asm.JEq.Imm(asm.R0, 0, elseL))
	then()
	g.Emit(asm.Ja.Label(endL))
	g.Label(elseL)
	otherwise()
	g.Label(endL)
}

func (g *gen) typeOf(e syntax.Expr) types.Type { return g.in.Types[e] }

func (g *gen) assign(s *syntax.AssignStmt) {
	switch target := s.Target.(type) {
	case *syntax.VarExpr:
		t := g.in.Vars[target.Key()]
		slot := g.varSlot(target.Key())
		// A block runs before the variable is written: it may read it.
		v := g.valueOf(s.Value)
		if t.Kind == types.Str {
			g.strTo(v, slot, t.Size)
			return
		}
		if t.Kind == types.Text {
			g.textTo(v, slot, t)
			return
		}
		if t.Kind == types.Tuple {
			g.assignTuple(v, slot, t)
			return
		}
		if t.Kind == types.Array {
			g.arrayTo(v, slot, t)
			return
		}
		g.intExpr(v)
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
		g.Emit(emit.StoreDW(asm.R10, off+int16(i), 0))
	}
}
