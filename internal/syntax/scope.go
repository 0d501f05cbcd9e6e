package syntax

import (
	"reflect"
	"strconv"

	"github.com/ebtrace/ebtrace/internal/source"
)

// Scratch variables are block scoped, as in the current dialect: a
// variable belongs to the block where it is first assigned or declared
// with let, and blocks nested in it. Variables of the same name in
// different blocks are different variables, told apart by VarExpr.ID.
// A declaration may not shadow a variable of an enclosing block.
//
// bpftrace 0.17 scoped variables by probe, and its scripts read variables
// after the block that assigned them, often assigned in both branches of
// an if. The current dialect refuses such a read; ebtrace runs it as 0.17
// did: a name read after the block that assigned it is one variable for
// the whole probe, whichever block assigns it. Finding those names takes a
// first walk; a second one gives the IDs. A variable declared with let,
// which 0.17 scripts do not have, is not read after its block.

type scoper struct {
	diags  *source.Diagnostics
	scopes []map[string]binding // innermost last: the declaration of each name
	// closed are the names declared in blocks that have ended: true when
	// by let, which the current dialect alone has, so a read after the
	// block is an error rather than 0.17's probe-wide variable.
	closed map[string]bool
	next   map[string]int // the next ID of each name
	// undeclared are the IDs of variables read that no block declares.
	undeclared map[string]int
	// leaked are the names read after the block that assigned them (the
	// first walk finds them); probeWide holds the ID of each.
	leaked    map[string]bool
	probeWide map[string]int
}

// binding is a variable's declaration in a block.
type binding struct {
	v   *VarExpr
	let bool
}

// scopeKey tells apart variables of a name from different macro
// expansions.
func scopeKey(v *VarExpr) string { return v.Name + "\x00" + strconv.Itoa(v.hygiene) }

// resolveScopes gives every variable of each probe its ID. Errors come
// from the first walk: a second one, needed only for leaked names, finds
// the same.
func resolveScopes(prog *Program, diags *source.Diagnostics) {
	for _, pr := range prog.Probes {
		leaked := map[string]bool{}
		newScoper(diags, leaked).visit(reflect.ValueOf(pr.Body))
		if len(leaked) > 0 {
			newScoper(&source.Diagnostics{File: diags.File}, leaked).visit(reflect.ValueOf(pr.Body))
		}
	}
}

func newScoper(diags *source.Diagnostics, leaked map[string]bool) *scoper {
	return &scoper{
		diags: diags, closed: map[string]bool{}, next: map[string]int{},
		undeclared: map[string]int{}, leaked: leaked, probeWide: map[string]int{},
	}
}

func (s *scoper) lookup(v *VarExpr) *VarExpr {
	k := scopeKey(v)
	for i := len(s.scopes) - 1; i >= 0; i-- {
		if b, ok := s.scopes[i][k]; ok {
			return b.v
		}
	}
	return nil
}

// newID gives v the next ID of its name.
func (s *scoper) newID(v *VarExpr) int {
	v.ID = s.next[v.Name]
	s.next[v.Name]++
	return v.ID
}

// declare makes v a new variable of the innermost block.
func (s *scoper) declare(v *VarExpr, let bool) {
	s.newID(v)
	s.scopes[len(s.scopes)-1][scopeKey(v)] = binding{v, let}
}

// use resolves v, a variable read or assigned; an assignment to a
// variable no block declares declares it.
func (s *scoper) use(v *VarExpr, assigns bool) {
	k := scopeKey(v)
	if d := s.lookup(v); d != nil {
		v.ID = d.ID
		return
	}
	if id, ok := s.probeWide[k]; ok {
		v.ID = id
		return
	}
	if s.leaked[k] && assigns {
		s.probeWide[k] = s.newID(v)
		return
	}
	if let, ok := s.closed[k]; ok && !assigns {
		if let {
			s.diags.Add(v.Sp, "syntax", "$%s was declared with let in a block that has ended", v.Name).
				Hint("declare it before that block: let $%s;", v.Name)
		}
		s.leaked[k] = true // the second walk gives it one ID
		return
	}
	if assigns {
		s.declare(v, false)
		return
	}
	// Never declared: an ID of its own, which the checker finds
	// unassigned.
	id, ok := s.undeclared[k]
	if !ok {
		id = s.newID(v)
		s.undeclared[k] = id
	}
	v.ID = id
}

func (s *scoper) push() { s.scopes = append(s.scopes, map[string]binding{}) }

func (s *scoper) pop() {
	for k, b := range s.scopes[len(s.scopes)-1] {
		s.closed[k] = b.let
	}
	s.scopes = s.scopes[:len(s.scopes)-1]
}

func (s *scoper) visit(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			s.visit(v.Elem())
		}
		return
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			s.visit(v.Index(i))
		}
		return
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
	default:
		return
	}
	switch n := v.Interface().(type) {
	case *Block:
		s.push()
		s.visit(reflect.ValueOf(n.Stmts))
		s.pop()
	case *LetStmt:
		if n.Value != nil {
			s.visit(reflect.ValueOf(n.Value))
		}
		if d := s.lookup(n.Var); d != nil {
			line, col := s.diags.File.Position(d.Sp.Start)
			s.diags.Add(n.Var.Sp, "syntax", "$%s is already declared at %d:%d; a block cannot declare it again or shadow it", n.Var.Name, line, col).
				Hint("give this variable another name, or assign to the one declared")
			n.Var.ID = d.ID
			return
		}
		s.declare(n.Var, true)
	case *AssignStmt:
		s.visit(reflect.ValueOf(n.Value))
		if t, ok := n.Target.(*VarExpr); ok {
			s.use(t, n.Op == "=")
			return
		}
		s.visit(reflect.ValueOf(n.Target))
	case *ForRangeStmt:
		s.visit(reflect.ValueOf(n.Start))
		s.visit(reflect.ValueOf(n.End))
		s.loop(n.Var, n.Body)
	case *ForMapStmt:
		s.visit(reflect.ValueOf(n.Map))
		s.loop(n.Var, n.Body)
	case *VarExpr:
		s.use(n, false)
	default:
		e := v.Elem()
		if e.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < e.NumField(); i++ {
			if f := e.Field(i); f.CanInterface() {
				s.visit(f)
			}
		}
	}
}

// loop resolves a for loop's variable, which belongs to the loop, and its
// body.
func (s *scoper) loop(v *VarExpr, body *Block) {
	s.push()
	s.use(v, true)
	s.visit(reflect.ValueOf(body))
	s.pop()
}
