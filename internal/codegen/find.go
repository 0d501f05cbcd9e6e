package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// find compiles find(@map, key, $var): one lookup; when the key is there
// its value is copied into the variable's slot (a string's tail past the
// map's value cleared) and r0 is 1, else the variable is left alone and
// r0 is 0.
func (g *gen) find(e *syntax.CallExpr) {
	x := e.Args[0].(*syntax.MapExpr)
	v := e.Args[2].(*syntax.VarExpr)
	m := g.plan.Map(x.Name)
	key := g.key(&syntax.MapExpr{Name: x.Name, Keys: e.Args[1:2], Sp: e.Sp}, m)
	slot, size := g.varSlot(v.Key()), plan.PartSize(g.in.Vars[v.Key()])
	missing, done := g.NewLabel("missing"), g.NewLabel("found")
	g.lookup(m, key)
	g.Emit(asm.JEq.Imm(asm.R0, 0, missing))
	n := 8
	if m.Kind == output.String {
		n = min(m.ValueSize, size)
	}
	g.copyWords(asm.R10, slot, asm.R0, n)
	g.zero(slot+int16(n), size-n)
	g.Emit(asm.Mov.Imm(asm.R0, 1), asm.Ja.Label(done))
	g.Label(missing)
	g.Emit(asm.Mov.Imm(asm.R0, 0))
	g.Label(done)
}
