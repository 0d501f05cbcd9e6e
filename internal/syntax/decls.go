package syntax

import "github.com/ebtrace/ebtrace/internal/source"

// The current dialect's declarations and block values: `let`, block
// expressions, the discard `_ = x`, macros and map declarations.

// LetStmt is `let $x;` or `let $x = value;`: it declares $x in the
// enclosing block. Value is nil without an initial value (the variable
// starts at zero).
type LetStmt struct {
	Var   *VarExpr
	Value Expr
	Sp    source.Span
}

// BlockExpr is a block used as a value, `{ stmts; value }`: its last
// statement is an expression with no ';' after it.
type BlockExpr struct {
	Block *Block
}

// Value is the expression whose value the block has.
func (e *BlockExpr) Value() Expr { return e.Block.Stmts[len(e.Block.Stmts)-1].(*ExprStmt).X }

// Body is the statements that run before the value.
func (e *BlockExpr) Body() []Stmt { return e.Block.Stmts[:len(e.Block.Stmts)-1] }

// MacroDecl is `macro name(params) { body }`. A parameter is a VarExpr
// (the argument must be a scratch variable, which the body may change), a
// MapExpr (a map) or an Ident (any expression, evaluated where the body
// uses it).
type MacroDecl struct {
	Name   string
	NameSp source.Span
	Params []Expr
	Body   *Block
	Sp     source.Span
}

// MapDecl is `let @name = kind(max_entries);` before the probes: it chooses
// the BPF map type and size of @name.
type MapDecl struct {
	Map    *MapExpr
	Kind   string
	KindSp source.Span
	Max    uint64
	MaxSp  source.Span
	Sp     source.Span
}

func (s *LetStmt) Span() source.Span   { return s.Sp }
func (e *BlockExpr) Span() source.Span { return e.Block.Sp }
func (d *MacroDecl) Span() source.Span { return d.Sp }
func (d *MapDecl) Span() source.Span   { return d.Sp }

func (*LetStmt) stmtNode()   {}
func (*BlockExpr) exprNode() {}
