package syntax

import (
	"strconv"
	"strings"
)

// Dump renders p as S-expressions, one line per probe:
//
//	(probe (attach "kprobe:f" "kprobe:g") (pred (== pid 1)) (block STMT...))
//
// Statements are (= TARGET VALUE) and likewise for the other assignment
// operators, (if COND (block ...) (else ...)), a nested (block ...), or the
// expression of an expression statement. Expressions are integers in
// decimal, Go-quoted strings, bare identifiers, $name, (map NAME KEY...)
// with NAME @ for the anonymous map, (. X name), (-> X name),
// (call NAME ARG...), (OP X) for unary operators, (pre++ X), (post-- X) and
// so on, (OP X Y) for binary operators and (? COND THEN ELSE). Loops are
// (while COND (block ...)), (unroll N (block ...)), (for $v START END
// (block ...)) and (for $v (map NAME) (block ...)); break, continue and
// return are (break) and so on; tuples are (tuple X...) and x.N is (. X N).
func Dump(p *Program) string {
	var b strings.Builder
	for _, pr := range p.Probes {
		dump(&b, pr)
		b.WriteByte('\n')
	}
	return b.String()
}

func dump(b *strings.Builder, n Node) {
	open := func(head string) {
		b.WriteByte('(')
		b.WriteString(head)
	}
	sub := func(ns ...Node) {
		for _, n := range ns {
			b.WriteByte(' ')
			dump(b, n)
		}
	}
	switch n := n.(type) {
	case *Probe:
		open("probe (attach")
		for _, a := range n.Attach {
			sub(a)
		}
		b.WriteByte(')')
		if n.Pred != nil {
			b.WriteString(" (pred")
			sub(n.Pred)
			b.WriteByte(')')
		}
		sub(n.Body)
	case *AttachPoint:
		b.WriteString(strconv.Quote(n.Raw))
		return
	case *Block:
		open("block")
		for _, s := range n.Stmts {
			sub(s)
		}
	case *ExprStmt:
		dump(b, n.X)
		return
	case *AssignStmt:
		open(n.Op)
		sub(n.Target, n.Value)
	case *IfStmt:
		open("if")
		sub(n.Cond, n.Then)
		if n.Else != nil {
			b.WriteString(" (else")
			sub(n.Else)
			b.WriteByte(')')
		}
	case *WhileStmt:
		open("while")
		sub(n.Cond, n.Body)
	case *UnrollStmt:
		open("unroll")
		sub(n.Count, n.Body)
	case *ForRangeStmt:
		open("for")
		sub(n.Var, n.Start, n.End, n.Body)
	case *ForMapStmt:
		open("for")
		sub(n.Var, n.Map, n.Body)
	case *JumpStmt:
		open(n.Keyword)
	case *TupleExpr:
		open("tuple")
		for _, e := range n.Elems {
			sub(e)
		}
	case *IndexExpr:
		open(".")
		sub(n.X)
		b.WriteString(" " + strconv.Itoa(n.Index))
	case *IntLit:
		b.WriteString(strconv.FormatUint(n.Value, 10))
		return
	case *StringLit:
		b.WriteString(strconv.Quote(n.Value))
		return
	case *Ident:
		b.WriteString(n.Name)
		return
	case *VarExpr:
		b.WriteString("$" + n.Name)
		return
	case *MapExpr:
		name := n.Name
		if name == "" {
			name = "@"
		}
		open("map " + name)
		for _, k := range n.Keys {
			sub(k)
		}
	case *FieldExpr:
		op := "."
		if n.Arrow {
			op = "->"
		}
		open(op)
		sub(n.X)
		b.WriteString(" " + n.Name)
	case *CallExpr:
		open("call " + n.Fun)
		for _, a := range n.Args {
			sub(a)
		}
	case *UnaryExpr:
		open(n.Op)
		sub(n.X)
	case *IncDecExpr:
		if n.Post {
			open("post" + n.Op)
		} else {
			open("pre" + n.Op)
		}
		sub(n.X)
	case *BinaryExpr:
		open(n.Op)
		sub(n.X, n.Y)
	case *CondExpr:
		open("?")
		sub(n.Cond, n.Then, n.Else)
	}
	b.WriteByte(')')
}
