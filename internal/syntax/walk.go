package syntax

import "github.com/ebtrace/ebtrace/internal/source"

// Span covers the program's config block and probes, from the first to the
// last closing brace.
func (p *Program) Span() source.Span {
	var sp source.Span
	switch {
	case len(p.Probes) == 0 && p.Config == nil:
		return source.Span{}
	case len(p.Probes) == 0:
		return p.Config.Sp
	case p.Config == nil:
		sp = p.Probes[0].Sp
	default:
		sp = p.Config.Sp
	}
	return source.Join(sp, p.Probes[len(p.Probes)-1].Sp)
}

// Inspect walks the tree rooted at n depth-first in source order. It calls
// f(n) for each node; when f returns true it walks n's children and then
// calls f(nil), as go/ast.Inspect does.
func Inspect(n Node, f func(Node) bool) {
	if n == nil || !f(n) {
		return
	}
	walk := func(ns ...Node) {
		for _, c := range ns {
			Inspect(c, f)
		}
	}
	switch n := n.(type) {
	case *Program:
		if n.Config != nil {
			walk(n.Config)
		}
		for _, pr := range n.Probes {
			walk(pr)
		}
	case *Probe:
		for _, a := range n.Attach {
			walk(a)
		}
		if n.Pred != nil {
			walk(n.Pred)
		}
		walk(n.Body)
	case *Block:
		for _, s := range n.Stmts {
			walk(s)
		}
	case *Config:
		for _, s := range n.Settings {
			walk(s)
		}
	case *Setting:
		walk(n.Value)
	case *ExprStmt:
		walk(n.X)
	case *LetStmt:
		walk(n.Var)
		if n.Value != nil {
			walk(n.Value)
		}
	case *BlockExpr:
		walk(n.Block)
	case *AssignStmt:
		walk(n.Target, n.Value)
	case *IfStmt:
		walk(n.Cond, n.Then)
		if n.Else != nil {
			walk(n.Else)
		}
	case *WhileStmt:
		walk(n.Cond, n.Body)
	case *UnrollStmt:
		walk(n.Count, n.Body)
	case *ForRangeStmt:
		walk(n.Var, n.Start, n.End, n.Body)
	case *ForMapStmt:
		walk(n.Var, n.Map, n.Body)
	case *JumpStmt:
		if n.Value != nil {
			walk(n.Value)
		}
	case *TupleExpr:
		for _, e := range n.Elems {
			walk(e)
		}
	case *TupleIndex:
		walk(n.X)
	case *MapExpr:
		for _, k := range n.Keys {
			walk(k)
		}
	case *FieldExpr:
		walk(n.X)
	case *CallExpr:
		for _, a := range n.Args {
			walk(a)
		}
	case *UnaryExpr:
		walk(n.X)
	case *IncDecExpr:
		walk(n.X)
	case *BinaryExpr:
		walk(n.X, n.Y)
	case *CondExpr:
		walk(n.Cond, n.Then, n.Else)
	case *CastExpr:
		if n.Type.Of != nil {
			walk(n.Type.Of)
		}
		walk(n.X)
	case *IndexExpr:
		walk(n.X, n.Index)
	case *SizeofExpr:
		if n.X != nil {
			walk(n.X)
		}
	}
	f(nil)
}
