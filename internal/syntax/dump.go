package syntax

import (
	"fmt"
	"strconv"
	"strings"
)

// Dump renders p as S-expressions, one line for the config block, if any,
// as (config (NAME VALUE)...), then one line per probe:
//
//	(probe (attach "kprobe:f" "kprobe:g") (pred (== pid 1)) (block STMT...))
//
// Statements are (= TARGET VALUE) and likewise for the other assignment
// operators, (if COND (block ...) (else ...)), a nested (block ...), or the
// expression of an expression statement. Expressions are integers in
// decimal, Go-quoted strings, bare identifiers, $name, $1 and $#, (map NAME KEY...)
// with NAME @ for the anonymous map, (. X name), (-> X name),
// (call NAME ARG...), (OP X) for unary operators, (pre++ X), (post-- X) and
// so on, (OP X Y) for binary operators and (? COND THEN ELSE). Loops are
// (while COND (block ...)), (unroll N (block ...)), (for $v START END
// (block ...)) and (for $v (map NAME) (block ...)); break, continue and
// return are (break) and so on; tuples are (tuple X...) and x.N is (. X N).
// The current dialect adds (let $x VALUE), (_ = X), (value (block ...)) for
// a block used as a value, and map declarations (let (map NAME) KIND MAX).
// Macro calls appear expanded; a variable that shares its name with another
// of its probe is $name#ID.
func Dump(p *Program) string {
	var b strings.Builder
	if p.Config != nil {
		dump(&b, p.Config)
		b.WriteByte('\n')
	}
	for _, inc := range p.Includes {
		dump(&b, inc)
		b.WriteByte('\n')
	}
	for _, d := range p.Structs {
		dump(&b, d)
		b.WriteByte('\n')
	}
	for _, d := range p.Enums {
		dump(&b, d)
		b.WriteByte('\n')
	}
	for _, d := range p.MapDecls {
		dump(&b, d)
		b.WriteByte('\n')
	}
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
		if n.Discard {
			open("_ =")
			sub(n.X)
			break
		}
		dump(b, n.X)
		return
	case *LetStmt:
		open("let")
		sub(n.Var)
		if n.Value != nil {
			sub(n.Value)
		}
	case *BlockExpr:
		open("value")
		sub(n.Block)
	case *MapDecl:
		open(fmt.Sprintf("let (map %s) %s %d", n.Map.Name, n.Kind, n.Max))
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
		if n.Value != nil {
			sub(n.Value)
		}
	case *TupleExpr:
		open("tuple")
		for _, e := range n.Elems {
			sub(e)
		}
	case *TupleIndex:
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
		b.WriteString("$" + n.Key())
		return
	case *ParamExpr:
		if n.N == 0 {
			b.WriteString("$#")
		} else {
			b.WriteString("$" + strconv.Itoa(n.N))
		}
		return
	case *Config:
		open("config")
		for _, s := range n.Settings {
			sub(s)
		}
	case *Setting:
		open(n.Name)
		sub(n.Value)
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
	case *CastExpr:
		if n.Type.Of != nil {
			open("cast typeof")
			sub(n.Type.Of, n.X)
			break
		}
		open("cast " + strconv.Quote(n.Type.String()))
		sub(n.X)
	case *IndexExpr:
		open("index")
		sub(n.X, n.Index)
	case *SizeofExpr:
		if n.Type != nil {
			open("sizeof " + strconv.Quote(n.Type.String()))
		} else {
			open("sizeof")
			sub(n.X)
		}
	case *OffsetofExpr:
		open("offsetof " + strconv.Quote(n.Type.String()) + " " + strings.Join(n.Fields, "."))
	case *StructDecl:
		kw := "struct"
		if n.Union {
			kw = "union"
		}
		open(kw + " " + n.Name)
		dumpMembers(b, n.Members)
	case *Include:
		open("include " + strconv.Quote(n.Path))
	case *EnumDecl:
		open(strings.TrimSpace("enum " + n.Name))
		for _, c := range n.Values {
			fmt.Fprintf(b, " (%s %d)", c.Name, c.Value)
		}
	}
	b.WriteByte(')')
}

// dumpMembers writes a struct's members, inline structs and unions
// with their own members.
func dumpMembers(b *strings.Builder, members []*MemberDecl) {
	for _, m := range members {
		if in := m.Type.Inline; in != nil {
			fmt.Fprintf(b, " (%s", m.Type)
			if m.Name != "" {
				b.WriteString(" " + m.Name)
			}
			for _, d := range m.Array {
				fmt.Fprintf(b, "[%d]", d)
			}
			dumpMembers(b, in.Members)
			b.WriteByte(')')
			continue
		}
		fmt.Fprintf(b, " (%s %s", strconv.Quote(m.Type.String()), m.Name)
		for _, d := range m.Array {
			fmt.Fprintf(b, "[%d]", d)
		}
		if m.Bits > 0 {
			fmt.Fprintf(b, " :%d", m.Bits)
		}
		b.WriteByte(')')
	}
}
