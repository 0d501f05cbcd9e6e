package ftfilter

import "strings"

// node is a filter expression: true, false, one kernel predicate
// ("count >= 5"), or &&, || and ! of nodes. Constants fold away as nodes
// are built, so a rendered filter holds none.
type node struct {
	op   nodeOp
	text string // opPred
	x, y *node
}

type nodeOp int

const (
	opTrue nodeOp = iota
	opFalse
	opPred
	opAnd
	opOr
	opNot
)

var (
	trueNode  = &node{op: opTrue}
	falseNode = &node{op: opFalse}
)

func pred(text string) *node { return &node{op: opPred, text: text} }

func and(x, y *node) *node {
	switch {
	case x.op == opFalse || y.op == opFalse:
		return falseNode
	case x.op == opTrue:
		return y
	case y.op == opTrue:
		return x
	}
	return &node{op: opAnd, x: x, y: y}
}

func or(x, y *node) *node {
	switch {
	case x.op == opTrue || y.op == opTrue:
		return trueNode
	case x.op == opFalse:
		return y
	case y.op == opFalse:
		return x
	}
	return &node{op: opOr, x: x, y: y}
}

func not(x *node) *node {
	switch x.op {
	case opTrue:
		return falseNode
	case opFalse:
		return trueNode
	case opNot:
		return x.x
	}
	return &node{op: opNot, x: x}
}

// render writes n in the kernel's filter syntax. An && inside an || gets
// parentheses it does not need, for whoever reads the filter file.
func (n *node) render() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *node) write(b *strings.Builder) {
	switch n.op {
	case opPred:
		b.WriteString(n.text)
	case opAnd:
		n.x.operand(b, opOr)
		b.WriteString(" && ")
		n.y.operand(b, opOr)
	case opOr:
		n.x.operand(b, opAnd)
		b.WriteString(" || ")
		n.y.operand(b, opAnd)
	case opNot:
		b.WriteString("!")
		n.x.operand(b, opAnd, opOr, opNot, opPred)
	}
}

// operand writes n, in parentheses when it is one of the ops listed.
func (n *node) operand(b *strings.Builder, parens ...nodeOp) {
	for _, op := range parens {
		if n.op == op {
			b.WriteByte('(')
			n.write(b)
			b.WriteByte(')')
			return
		}
	}
	n.write(b)
}
