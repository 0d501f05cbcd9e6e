package ebtrace

import (
	"slices"

	"github.com/ebtrace/ebtrace/internal/syntax"
)

// mapTraits is what the script's text says about one map, beyond its
// type: what its keys are called and whether it only ever grows.
type mapTraits struct {
	keyNames []string
	counter  bool
	scratch  bool
}

// namedKeyCalls name a key by the call itself: a symbol is a label that
// makes sense (ksym), unlike the address it came from.
var namedKeyCalls = map[string]bool{"ksym": true, "usym": true, "kaddr": true, "uaddr": true, "cgroup_path": true}

// traitsOf reads every map's traits from the script: a key part written
// everywhere as the same builtin (comm, pid), field (args.fd) or named
// call (ksym(...)) is called by that name; a map written only with
// count(), sum(), ++ or += of a positive constant is a counter; a map
// whose keys the script deletes, or that END clears, is scratch.
func traitsOf(prog *syntax.Program) map[string]*mapTraits {
	traits := map[string]*mapTraits{}
	get := func(name string) *mapTraits {
		t, ok := traits[name]
		if !ok {
			t = &mapTraits{counter: true}
			traits[name] = t
		}
		return t
	}
	written := map[string]bool{}
	inEnd := false
	syntax.Inspect(prog, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Probe:
			inEnd = slices.ContainsFunc(n.Attach, func(a *syntax.AttachPoint) bool { return a.Raw == "END" })
		case *syntax.CallExpr:
			if m, ok := firstMap(n); ok && (n.Fun == "delete" || n.Fun == "clear" && inEnd) {
				get(m.Name).scratch = true
			}
		case *syntax.MapExpr:
			t := get(n.Name)
			for i, k := range n.Keys {
				name := keyName(k)
				switch {
				case i >= len(t.keyNames):
					t.keyNames = append(t.keyNames, name)
				case t.keyNames[i] != name:
					t.keyNames[i] = ""
				}
			}
		case *syntax.AssignStmt:
			m, ok := n.Target.(*syntax.MapExpr)
			if !ok {
				break
			}
			written[m.Name] = true
			if !grows(n) {
				get(m.Name).counter = false
			}
		case *syntax.IncDecExpr:
			if m, ok := n.X.(*syntax.MapExpr); ok {
				written[m.Name] = true
				if n.Op != "++" {
					get(m.Name).counter = false
				}
			}
		}
		return true
	})
	for name, t := range traits {
		if !written[name] {
			t.counter = false
		}
	}
	return traits
}

// firstMap is a call's first argument when it is a map.
func firstMap(call *syntax.CallExpr) (*syntax.MapExpr, bool) {
	if len(call.Args) == 0 {
		return nil, false
	}
	m, ok := call.Args[0].(*syntax.MapExpr)
	return m, ok
}

// grows reports whether an assignment to a map only ever adds to it.
func grows(a *syntax.AssignStmt) bool {
	switch a.Op {
	case "=":
		call, ok := a.Value.(*syntax.CallExpr)
		return ok && (call.Fun == "count" || call.Fun == "sum")
	case "+=":
		lit, ok := a.Value.(*syntax.IntLit)
		return ok && lit.Value > 0
	}
	return false
}

// keyName is what a key expression is called: a builtin's or a field's
// name, a named call's, or the name inside str() and friends; "" for
// anything else.
func keyName(e syntax.Expr) string {
	switch e := e.(type) {
	case *syntax.Ident:
		return e.Name
	case *syntax.FieldExpr:
		return e.Name
	case *syntax.CallExpr:
		if namedKeyCalls[e.Fun] {
			return e.Fun
		}
		if (e.Fun == "str" || e.Fun == "buf") && len(e.Args) > 0 {
			return keyName(e.Args[0])
		}
	}
	return ""
}
