// Package filter owns ftrace's event filter language (the text written to
// tracefs events/CAT/NAME/filter): Parse turns it into an Expr with spans
// into the filter text, and Compile type-checks an Expr against the event's
// format file and emits a BPF tracepoint program that returns 1 to keep the
// event and 0 to drop it, with the kernel filter's semantics, quirks
// included (TestParity holds the two side by side):
//
//   - Integers compare at the field's width and signedness; the value is
//     truncated to the field first. & keeps the event when the AND is not 0.
//   - == and != on strings compare like strncmp over the field's length;
//     ~ sorts its pattern as the kernel does: "x*" front, "*x" end, "*x*"
//     anywhere, anything else with *, ?, [...] or \ a full glob, and a
//     leading '!' inverts it. "*x" on a char array looks at the array's
//     last bytes, not the string's, exactly like the kernel.
//   - A char * field is read from kernel memory, or user memory with
//     .ustring; without .ustring a user pointer is read too where the
//     running kernel's filter reads it (Options.UserPointers: builds
//     differ). An unreadable pointer makes the predicate false, even with
//     !=. Strings are compared on their first 255 bytes; the kernel reads
//     more of a pointed-to string, so "*x" and globs can differ on longer
//     ones.
//   - .function FIELD == NAME holds when the address lies in NAME (a bare
//     name or an address inside it), up to the next kernel symbol.
//   - The kernel overwrites a record's first 8 bytes before a BPF program
//     sees it. common_pid is recomputed as the current thread id and
//     common_type is the event's ID, a constant; common_flags and
//     common_preempt_count (irq state, preemption depth) are lost, so a
//     filter on them is a diagnostic. CPU and COMM come from helpers.
//
// Compile is stricter than the kernel where the kernel silently takes a
// slip: a glob with an unclosed '[' or a trailing '\', a dangling &&, ||
// or !, and CPU & N, which the kernel's filter never matches.
package filter

import (
	"fmt"
	"strings"

	"github.com/ebtrace/ebtrace/internal/source"
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
