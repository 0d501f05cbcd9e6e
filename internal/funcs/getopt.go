package funcs

import (
	"strconv"
	"strings"

	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// getopt reads a named option given after the script (-- --count=5),
// when the script compiles: the call stands for the value, an integer, a
// string or a flag (true or false) as its default says.
var getopt = Func{
	Name: "getopt", Min: 1, Max: 3, Rewritten: true,
	Doc: "a named option given after the script (--name=value): getopt(\"name\"[, default[, description]])",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "an option name", `getopt("count", 10)`)
		if !ok {
			return types.Int64
		}
		if len(e.Args) == 3 {
			literal(c, e, 2, "a description", "")
		}
		value, given := c.Option(lit.Value)
		var def syntax.Expr
		if len(e.Args) > 1 {
			def = e.Args[1]
		}
		at := e.Sp
		number := func(n int64) syntax.Expr {
			if n < 0 {
				return &syntax.UnaryExpr{Op: "-", X: &syntax.IntLit{Value: uint64(-n), Sp: at}, Sp: at}
			}
			return &syntax.IntLit{Value: uint64(n), Sp: at}
		}
		switch d := def.(type) {
		case *syntax.StringLit:
			if !given {
				value = d.Value
			}
			return c.Rewrite(e, &syntax.StringLit{Value: value, Sp: at})
		case *syntax.IntLit, *syntax.UnaryExpr:
			n, ok := intLiteral(d)
			if !ok {
				break
			}
			if given {
				v, err := strconv.ParseInt(value, 0, 64)
				if err != nil {
					c.Errorf(lit.Sp, "option", "getopt(%q): --%s=%s is not an integer", lit.Value, lit.Value, value).
						Hint("give it as --%s=NUMBER after the script", lit.Value)
				}
				n = v
			}
			return c.Rewrite(e, number(n))
		case nil, *syntax.Ident:
			on := false
			if id, ok := d.(*syntax.Ident); ok {
				if id.Name != "true" && id.Name != "false" {
					break
				}
				on = id.Name == "true"
			}
			if given {
				switch strings.ToLower(value) {
				case "", "true", "1":
					on = true
				case "false", "0":
					on = false
				default:
					c.Errorf(lit.Sp, "option", "getopt(%q): --%s=%s is not true, false, 1 or 0", lit.Value, lit.Value, value)
				}
			}
			return c.Rewrite(e, &syntax.Ident{Name: strconv.FormatBool(on), Sp: at})
		}
		c.Expr(def)
		c.Errorf(def.Span(), "arguments", "getopt()'s default must be a literal: an integer, a string, true or false")
		return types.Int64
	},
}

// intLiteral is the value of an integer literal, negated or not.
func intLiteral(e syntax.Expr) (int64, bool) {
	switch e := e.(type) {
	case *syntax.IntLit:
		return int64(e.Value), true
	case *syntax.UnaryExpr:
		if lit, ok := e.X.(*syntax.IntLit); ok && e.Op == "-" {
			return -int64(lit.Value), true
		}
	}
	return 0, false
}

// Option is a named option a script reads with getopt().
type Option struct {
	Name    string
	Value   string // what it takes: "NUMBER", "TEXT" or "" for a flag
	Default string // as the script writes it; "" for a flag without one
	Doc     string
}

// Options lists the named options of prog's getopt() calls whose names
// are literals, in the order they are first read.
func Options(prog *syntax.Program) []Option {
	var out []Option
	seen := map[string]bool{}
	for _, pr := range prog.Probes {
		syntax.Inspect(pr, func(n syntax.Node) bool {
			call, ok := n.(*syntax.CallExpr)
			if !ok || call.Fun != "getopt" || len(call.Args) == 0 {
				return true
			}
			name, ok := call.Args[0].(*syntax.StringLit)
			if !ok || seen[name.Value] {
				return true
			}
			seen[name.Value] = true
			o := Option{Name: name.Value}
			if len(call.Args) > 1 {
				switch d := call.Args[1].(type) {
				case *syntax.StringLit:
					o.Value, o.Default = "TEXT", strconv.Quote(d.Value)
				case *syntax.Ident:
					o.Default = d.Name
				default:
					if n, ok := intLiteral(d); ok {
						o.Value, o.Default = "NUMBER", strconv.FormatInt(n, 10)
					}
				}
			}
			if len(call.Args) > 2 {
				if doc, ok := call.Args[2].(*syntax.StringLit); ok {
					o.Doc = doc.Value
				}
			}
			out = append(out, o)
			return true
		})
	}
	return out
}
