// Package filter owns ftrace's event filter language (the text written to
// tracefs events/CAT/NAME/filter): Parse turns it into an Expr with spans
// into the filter text, and Compile type-checks an Expr against the event's
// format file and emits the body of a BPF tracepoint program that returns 1
// to keep the event and 0 to drop it, with the kernel filter's semantics.
package filter

import (
	"fmt"
	"strings"

	"ebtrace/source"
)

// Kind says what an Expr node is.
type Kind int

// The node kinds: a predicate and the three logical operators.
const (
	Pred Kind = iota // FIELD OP VALUE
	And              // X && Y
	Or               // X || Y
	Not              // !X
)

// Op is a predicate's comparison operator.
type Op string

// The operators of the kernel's filter language.
const (
	Eq   Op = "=="
	Ne   Op = "!="
	Lt   Op = "<"
	Le   Op = "<="
	Gt   Op = ">"
	Ge   Op = ">="
	Band Op = "&"
	Glob Op = "~"
)

// Expr is one node of a parsed filter.
type Expr struct {
	Kind Kind
	Span source.Span
	X, Y *Expr // operands: And and Or use both, Not uses X

	// Predicate parts (Kind == Pred).
	Field     string      // "common_pid", "count", "COMM"
	Suffix    string      // "", "ustring" or "function"
	FieldSpan source.Span // the field name with its suffix
	Op        Op
	OpSpan    source.Span
	Value     string // the literal; quotes removed from a quoted string
	Quoted    bool   // the value was written in quotes
	ValueSpan source.Span

	file *source.File // the filter text, for Compile's diagnostics
}

// String renders e as an S-expression, e.g.
// (&& (== common_pid 7) (~ comm "ba*")), for tests and debugging.
func (e *Expr) String() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e *Expr) write(b *strings.Builder) {
	switch e.Kind {
	case And, Or:
		op := "&&"
		if e.Kind == Or {
			op = "||"
		}
		fmt.Fprintf(b, "(%s ", op)
		e.X.write(b)
		b.WriteByte(' ')
		e.Y.write(b)
		b.WriteByte(')')
	case Not:
		b.WriteString("(! ")
		e.X.write(b)
		b.WriteByte(')')
	default:
		field := e.Field
		if e.Suffix != "" {
			field += "." + e.Suffix
		}
		value := e.Value
		if e.Quoted {
			value = fmt.Sprintf("%q", e.Value)
		}
		fmt.Fprintf(b, "(%s %s %s)", e.Op, field, value)
	}
}

// diagFile is the name filter diagnostics give the filter text.
const diagFile = "filter"
