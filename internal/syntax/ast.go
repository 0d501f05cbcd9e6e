// Package syntax owns the bpftrace language's concrete syntax: the scanner,
// the parser, the AST and its S-expression dump. Every node records the span
// of source it came from; the parser never consults the kernel.
package syntax

import (
	"strconv"
	"strings"

	"github.com/ebtrace/ebtrace/internal/source"
)

// Node is any AST node.
type Node interface {
	Span() source.Span
}

// Expr is an expression node.
type Expr interface {
	Node
	exprNode()
}

// Stmt is a statement node.
type Stmt interface {
	Node
	stmtNode()
}

// Program is a whole script.
type Program struct {
	File     *source.File
	Config   *Config // nil without a config block
	Includes []*Include
	Structs  []*StructDecl
	Macros   []*MacroDecl
	MapDecls []*MapDecl
	Enums    []*EnumDecl
	Probes   []*Probe
}

// Config is the `config = { name = value; ... }` block that may open a
// script.
type Config struct {
	Settings []*Setting
	Sp       source.Span
}

// Setting is one `name = value` of the config block. The parser accepts
// any expression as the value; check says which ones a setting takes.
type Setting struct {
	Name   string
	NameSp source.Span
	Value  Expr
}

// Probe is `attach, attach /pred/ { body }`.
type Probe struct {
	Attach []*AttachPoint
	Pred   Expr // nil without a predicate
	Body   *Block
	Sp     source.Span
}

// AttachPoint is one attach point spelled as in the script, e.g.
// "tracepoint:syscalls:sys_enter_*" or "BEGIN". Providers interpret Raw.
type AttachPoint struct {
	Raw string
	Sp  source.Span
}

// Block is `{ stmt; ... }`.
type Block struct {
	Stmts []Stmt
	Sp    source.Span
	// Tail says the last statement is an expression with no ';' after
	// it: the block's value when it is used as one (BlockExpr).
	Tail bool
}

// ExprStmt is an expression evaluated for its effect, e.g. a call.
type ExprStmt struct {
	X       Expr
	Discard bool // written `_ = X`: the value is dropped on purpose
}

// AssignStmt is `target op value` where op is one of
// = += -= *= /= %= &= |= ^= <<= >>= and target is a *MapExpr or *VarExpr.
type AssignStmt struct {
	Target Expr
	Op     string
	OpSp   source.Span
	Value  Expr
}

// IfStmt is `if (cond) { ... } else ...`; Else is nil, a *Block or an *IfStmt.
type IfStmt struct {
	Cond Expr
	Then *Block
	Else Stmt
	Sp   source.Span
}

// IntLit is an integer literal.
type IntLit struct {
	Value uint64
	Sp    source.Span
}

// StringLit is a double-quoted string literal with escapes resolved.
type StringLit struct {
	Value string
	Sp    source.Span
}

// ValueSpan maps the byte range [start, end) of the literal's value back
// to the source f, assuming no escapes before it (close enough for a
// caret); with an escape before it, the whole literal.
func (lit *StringLit) ValueSpan(f *source.File, start, end int) source.Span {
	raw := f.Text[lit.Sp.Start:lit.Sp.End]
	if strings.Contains(raw, "\\") && strings.Index(raw, "\\") < start+1 {
		return lit.Sp
	}
	s := lit.Sp.Start + 1 + source.Pos(start)
	e := min(lit.Sp.Start+1+source.Pos(end), lit.Sp.End)
	return source.Span{Start: s, End: e}
}

// Ident is a bare identifier: a builtin such as pid or comm, or args.
type Ident struct {
	Name string
	Sp   source.Span
}

// VarExpr is a scratch variable `$name`.
type VarExpr struct {
	Name string // without the $
	Sp   source.Span
	// ID tells apart variables of the same name declared in different
	// blocks or macro expansions; Parse sets it (see scope.go).
	ID int
	// hygiene marks a variable of a macro's body with its expansion:
	// such a variable is distinct from any of the caller's.
	hygiene int
}

// Key identifies the variable within its probe.
func (e *VarExpr) Key() string {
	if e.ID == 0 {
		return e.Name
	}
	return e.Name + "#" + strconv.Itoa(e.ID)
}

// ParamExpr is a positional parameter `$1`, `$2`, ... or their count `$#`.
type ParamExpr struct {
	N  int // 1 for $1; 0 for $#
	Sp source.Span
}

// MapExpr is `@name` or `@name[k1, k2]`; Name is "" for the anonymous map `@`.
type MapExpr struct {
	Name string // without the @
	Keys []Expr // nil without a subscript
	Sp   source.Span
}

// FieldExpr is `x.name` or `x->name`.
type FieldExpr struct {
	X      Expr
	Name   string
	Arrow  bool
	NameSp source.Span
}

// CallExpr is `fn(args...)`; a bare `fn` without parentheses is an Ident.
type CallExpr struct {
	Fun   string
	FunSp source.Span
	Args  []Expr
	Sp    source.Span
}

// UnaryExpr is `op X` for op in - ! ~.
type UnaryExpr struct {
	Op string
	X  Expr
	Sp source.Span
}

// IncDecExpr is `X++`, `X--`, `++X` or `--X` on a map or variable.
type IncDecExpr struct {
	X    Expr
	Op   string // "++" or "--"
	Post bool
	Sp   source.Span
}

// BinaryExpr is `X op Y`.
type BinaryExpr struct {
	X    Expr
	Op   string
	OpSp source.Span
	Y    Expr
}

// CondExpr is `cond ? then : else`.
type CondExpr struct {
	Cond, Then, Else Expr
}

func (p *Probe) Span() source.Span       { return p.Sp }
func (a *AttachPoint) Span() source.Span { return a.Sp }
func (b *Block) Span() source.Span       { return b.Sp }
func (s *ExprStmt) Span() source.Span    { return s.X.Span() }
func (s *AssignStmt) Span() source.Span  { return source.Join(s.Target.Span(), s.Value.Span()) }
func (s *IfStmt) Span() source.Span      { return s.Sp }
func (e *IntLit) Span() source.Span      { return e.Sp }
func (e *StringLit) Span() source.Span   { return e.Sp }
func (e *Ident) Span() source.Span       { return e.Sp }
func (e *VarExpr) Span() source.Span     { return e.Sp }
func (e *ParamExpr) Span() source.Span   { return e.Sp }
func (c *Config) Span() source.Span      { return c.Sp }
func (s *Setting) Span() source.Span     { return source.Join(s.NameSp, s.Value.Span()) }
func (e *MapExpr) Span() source.Span     { return e.Sp }
func (e *FieldExpr) Span() source.Span   { return source.Join(e.X.Span(), e.NameSp) }
func (e *CallExpr) Span() source.Span    { return e.Sp }
func (e *UnaryExpr) Span() source.Span   { return e.Sp }
func (e *IncDecExpr) Span() source.Span  { return e.Sp }
func (e *BinaryExpr) Span() source.Span  { return source.Join(e.X.Span(), e.Y.Span()) }
func (e *CondExpr) Span() source.Span    { return source.Join(e.Cond.Span(), e.Else.Span()) }

func (*ExprStmt) stmtNode()   {}
func (*AssignStmt) stmtNode() {}
func (*IfStmt) stmtNode()     {}
func (*Block) stmtNode()      {}

func (*IntLit) exprNode()     {}
func (*StringLit) exprNode()  {}
func (*Ident) exprNode()      {}
func (*VarExpr) exprNode()    {}
func (*ParamExpr) exprNode()  {}
func (*MapExpr) exprNode()    {}
func (*FieldExpr) exprNode()  {}
func (*CallExpr) exprNode()   {}
func (*UnaryExpr) exprNode()  {}
func (*IncDecExpr) exprNode() {}
func (*BinaryExpr) exprNode() {}
func (*CondExpr) exprNode()   {}
