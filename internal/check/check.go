// Package check owns the semantic pass. Input: a parsed program, the probe
// registry and the environment. Output: Info, side tables that give every
// expression its type for each concrete probe instance, every map its kind,
// key and value types, and every args.NAME its location. The AST is never
// modified. Every problem found is collected as a diagnostic with a span.
//
// Algorithm: attach points are expanded through their providers; then the
// probes are walked twice. The first walk only learns what each map holds
// from its assignments (a map may be read in a probe that precedes the one
// that writes it); the second walk types every expression and reports.
package check

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ebtrace/ebtrace/internal/cdecl"
	"github.com/ebtrace/ebtrace/internal/funcs"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Info is the result of checking a program.
type Info struct {
	Program   *syntax.Program
	Instances []*Instance
	Maps      map[string]*Map // by name without @; "" is the anonymous map
	Printfs   map[*syntax.CallExpr]*printf.Format
	Config    Config
	Params    []string // positional parameters: $1 is Params[0]
	// Skipped are warnings about attach points that name nothing on this
	// system, left out under missing_probes = warn.
	Skipped []source.Diagnostic
	// GFPFlags are the kernel's names of GFP flags, which %gr prints;
	// read only for a script that uses %gr.
	GFPFlags []kernel.GFPFlag
	// Warnings are the script's other warnings: uses of unstable features.
	Warnings []source.Diagnostic
}

// MapNames returns the map names sorted.
func (in *Info) MapNames() []string { return slices.Sorted(maps.Keys(in.Maps)) }

// Instance is one probe body bound to one concrete attach point.
type Instance struct {
	Probe    *syntax.Probe
	Index    int // position of Probe in the program
	Instance probe.Instance
	Types    map[syntax.Expr]types.Type
	Args     map[syntax.Expr]probe.Arg // args.NAME fields and probe-type builtins
	Vars     map[string]types.Type
	// Layouts place C values: struct members, index and pointer steps,
	// sizeof and offsetof.
	Layouts map[syntax.Expr]Layout
	// CNames are the C type names of values in memory, for &.
	CNames map[syntax.Expr]string
	// Rewrites are the expressions others stand for, compiled in their
	// place: ppid() for curtask->real_parent->tgid, rand for rand(),
	// pid() for pid, delete(@m, k) for delete(@m[k]).
	Rewrites map[syntax.Expr]syntax.Expr
	// Consts are the values of expressions resolved while checking, for
	// this attach point: kaddr() and pton() calls, kernel enum constants,
	// true and false, is_ptr(args.x) and the other questions whose answer
	// depends on the attach point's arguments or program type.
	Consts map[syntax.Expr]uint64
}

// Map is what a map holds, learnt from every use in the script.
type Map struct {
	Name  string
	Kind  output.Kind
	Keyed bool
	Keys  []types.Type // one per key part; nil when not keyed
	Value types.Type   // Scalar and String maps
	// Linear histogram parameters.
	LMin, LMax, LStep int64
	Bits              int                // hist(x, Bits)
	TS                output.TSeriesSpec // tseries() parameters
	Def               source.Span        // first assignment
	// shaped is set once an assignment gave hist() its bits or tseries()
	// its parameters, which every other assignment must repeat.
	shaped bool
	// Decl is the map's declaration before the probes; nil without one.
	Decl *syntax.MapDecl
}

// DisplayName is the map's name as the user writes it.
func (m *Map) DisplayName() string { return "@" + m.Name }

// Check types prog. It returns Info and, when the script has problems, a
// *source.Diagnostics error. Errors from the environment (tracefs missing)
// are returned wrapped, separate from diagnostics.
func Check(prog *syntax.Program, reg *probe.Registry, env *probe.Env) (*Info, error) {
	return CheckWith(prog, reg, env, Options{})
}

// CheckWith is Check with the script's parameters and environment.
func CheckWith(prog *syntax.Program, reg *probe.Registry, env *probe.Env, opts Options) (*Info, error) {
	c := &checker{
		info:   &Info{Program: prog, Maps: map[string]*Map{}, Printfs: map[*syntax.CallExpr]*printf.Format{}, Params: opts.Params},
		env:    env,
		diag:   &source.Diagnostics{File: prog.File},
		types:  cdecl.New(env.Types),
		noBool: opts.NoBool,
	}
	if err := c.config(prog.Config, opts.Getenv); err != nil {
		return nil, err
	}
	c.declare(prog)
	var missing []source.Diagnostic
	events := false // whether any attach point gave an event probe
	for i, p := range prog.Probes {
		skippedAll := true
		for _, ap := range p.Attach {
			ap, ok := c.withParams(ap)
			if !ok {
				continue
			}
			insts, err := expand(reg, env, ap)
			var pe *probe.Error
			switch {
			case errors.As(err, &pe) && pe.Missing && c.info.Config.MissingProbes != "error":
				missing = append(missing, source.Diagnostic{Span: ap.Sp, Code: "missing-probe", Message: pe.Msg, Hints: pe.Hints})
				continue
			case errors.As(err, &pe):
				c.diag.Add(ap.Sp, "probe", "%s", pe.Msg).Hints = pe.Hints
			case err != nil:
				return nil, err
			}
			for _, inst := range insts {
				events = events || inst.Kind() == probe.Event
			}
			if usesIdent(p, "probe") {
				insts = splitGroups(insts)
			}
			for _, inst := range insts {
				c.info.Instances = append(c.info.Instances, &Instance{Probe: p, Index: i, Instance: inst})
			}
			skippedAll = false
		}
		if skippedAll {
			c.learnSkipped(p)
		}
	}
	c.skipMissing(missing, events)
	c.probeLimit()
	if len(c.diag.Items) > 0 {
		return c.info, c.diag
	}
	c.learning = true
	for _, in := range c.info.Instances {
		c.instance(in)
	}
	c.learning = false
	for _, in := range c.info.Instances {
		c.instance(in)
	}
	c.mapDecls(prog.MapDecls)
	c.dedupe()
	return c.info, c.diag.Err()
}

// mapDecls binds each map declaration to the map it declares.
func (c *checker) mapDecls(decls []*syntax.MapDecl) {
	for _, d := range decls {
		c.unstable(d.Sp, "unstable_map_decl")
		switch m, ok := c.info.Maps[d.Map.Name]; {
		case !slices.Contains(syntax.MapKinds, d.Kind):
			c.errorf(d.KindSp, "map-decl", "unknown map kind %s", d.Kind).Hint("kinds: %s", strings.Join(syntax.MapKinds, ", "))
		case d.Max == 0 || d.Max > 1<<24:
			c.errorf(d.MaxSp, "map-decl", "a map holds 1 to %d entries, not %d", 1<<24, d.Max)
		case !ok:
			c.errorf(d.Map.Sp, "map-decl", "%s is declared but no probe uses it", "@"+d.Map.Name)
		case m.Decl != nil:
			line, _ := c.info.Program.File.Position(m.Decl.Sp.Start)
			c.errorf(d.Map.Sp, "map-decl", "%s is already declared on line %d", "@"+d.Map.Name, line)
		case !m.Keyed && (d.Kind == "lruhash" || d.Kind == "percpulruhash"):
			c.errorf(d.KindSp, "map-decl", "%s has no keys, so it has nothing to evict", "@"+d.Map.Name).
				Hint("declare it as hash or percpuhash")
			m.Decl = d
		case (d.Kind == "percpuhash" || d.Kind == "percpulruhash") && (m.Kind == output.Scalar || m.Kind == output.String):
			c.errorf(d.KindSp, "map-decl", "%s holds plain values, which a per-CPU map cannot keep", "@"+d.Map.Name).
				Hint("per-CPU maps hold aggregations: count(), sum(), avg(), min(), max(), stats(), hist(), lhist()")
			m.Decl = d
		default:
			m.Decl = d
		}
	}
}

// skipMissing applies missing_probes to the attach points that name
// nothing here: they are warnings in Info.Skipped (none under "ignore"),
// unless no event probe is left, when the script has nothing to trace and
// each is an error.
func (c *checker) skipMissing(missing []source.Diagnostic, events bool) {
	for _, d := range missing {
		switch {
		case !events:
			d.Hints = append(d.Hints, "no probe of the script exists on this system, so there is nothing to trace")
			c.diag.Items = append(c.diag.Items, d)
		case c.info.Config.MissingProbes == "warn":
			// The probe's own hints (close names) are left out: a
			// skipped alternative is expected, not a typo to fix.
			d.Warning = true
			d.Hints = []string{"skipped: missing_probes = warn (set it to error to stop, or ignore to say nothing)"}
			c.info.Skipped = append(c.info.Skipped, d)
		}
	}
}

// unassigned reports map @name, used at sp, as how ("never assigned").
func (c *checker) unassigned(sp source.Span, name, how string) *source.Diagnostic {
	return c.errorf(sp, "undefined", "map @%s is %s", name, how)
}

// usesIdent reports whether the probe's predicate or body names the
// identifier name.
func usesIdent(p *syntax.Probe, name string) bool {
	found := false
	syntax.Inspect(p, func(n syntax.Node) bool {
		if id, ok := n.(*syntax.Ident); ok && id.Name == name {
			found = true
		}
		return !found
	})
	return found
}

// splitGroups replaces each probe.Group with its single instances.
func splitGroups(insts []probe.Instance) []probe.Instance {
	var out []probe.Instance
	for _, in := range insts {
		if g, ok := in.(probe.Group); ok {
			out = append(out, g.Split()...)
		} else {
			out = append(out, in)
		}
	}
	return out
}

func expand(reg *probe.Registry, env *probe.Env, ap *syntax.AttachPoint) ([]probe.Instance, error) {
	p, spec, err := reg.Lookup(ap.Raw)
	if err != nil {
		return nil, err
	}
	return p.Expand(spec, env)
}

// attachParam is a positional parameter in an attach point: $1.
var attachParam = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$[0-9]+`) })

// withParams returns ap with the positional parameters it names ($1)
// replaced by their values, as bpftrace allows: uprobe:$1:main. A
// parameter not given is an error.
func (c *checker) withParams(ap *syntax.AttachPoint) (*syntax.AttachPoint, bool) {
	if !strings.Contains(ap.Raw, "$") {
		return ap, true
	}
	ok := true
	raw := attachParam().ReplaceAllStringFunc(ap.Raw, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		if n < 1 || n > len(c.info.Params) {
			c.errorf(ap.Sp, "param", "%s names positional parameter %s, but only %d positional parameter(s) were given", ap.Raw, p, len(c.info.Params)).
				Hint("give it after the script: ebtrace script.bt VALUE")
			ok = false
			return p
		}
		return c.info.Param(n)
	})
	return &syntax.AttachPoint{Raw: raw, Sp: ap.Sp}, ok
}

type checker struct {
	env      *probe.Env
	types    *cdecl.Table
	info     *Info
	diag     *source.Diagnostics
	learning bool // first walk: learn map definitions, report nothing
	// skippedMaps are the maps assigned by probes none of whose attach
	// points exist here (skipped.go).
	skippedMaps map[string]skippedShape
	cur         *Instance
	scope       loopScope
	noBool      bool // Options.NoBool
	// declared are the variables of the current instance declared by
	// let without a value.
	declared map[string]bool
	// macroHeaders memoises macroHeader: every instance of a probe
	// reports the same unknown name, and each search reads hundreds of
	// headers.
	macroHeaders map[string]macroHint
	// dead counts the enclosing if branches that constant conditions rule
	// out (consteval.go): fail() there is never reached.
	dead int
}

// varType is the type of variable v where it is used, and whether it is
// known there. A variable declared by let without a value and used before
// any assignment is an integer, zero.
func (c *checker) varType(v *syntax.VarExpr) (types.Type, bool) {
	t, ok := c.cur.Vars[v.Key()]
	if ok && t.Kind == types.Void && c.declared[v.Key()] {
		t = types.Int64
		c.cur.Vars[v.Key()] = t
	}
	return t, ok
}

// varNames returns the names of the current instance's variables.
func (c *checker) varNames() []string {
	var names []string
	for k := range c.cur.Vars {
		name, _, _ := strings.Cut(k, "#")
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (c *checker) errorf(sp source.Span, code, format string, args ...any) *source.Diagnostic {
	if c.learning {
		return &source.Diagnostic{}
	}
	return c.diag.Add(sp, code, format, args...)
}

// dedupe drops repeated diagnostics: a probe with several attach points is
// checked once per attach point.
func (c *checker) dedupe() {
	seen := map[string]bool{}
	var out []source.Diagnostic
	for _, d := range c.diag.Items {
		k := fmt.Sprint(d.Span, d.Message)
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	c.diag.Items = out
}

func (c *checker) instance(in *Instance) {
	in.Types = map[syntax.Expr]types.Type{}
	in.Rewrites = map[syntax.Expr]syntax.Expr{}
	in.Consts = map[syntax.Expr]uint64{}
	in.Args = map[syntax.Expr]probe.Arg{}
	in.Vars = map[string]types.Type{}
	c.declared = map[string]bool{}
	in.Layouts = map[syntax.Expr]Layout{}
	in.CNames = map[syntax.Expr]string{}
	c.cur = in
	c.scope = loopScope{}
	if in.Probe.Pred != nil {
		if t := c.expr(in.Probe.Pred); t.Kind != types.Void && !t.IsInt() {
			c.errorf(in.Probe.Pred.Span(), "type", "a predicate must be an integer, not %s", t)
		}
	}
	c.block(in.Probe.Body)
	c.retypeVars(in)
}

func (c *checker) block(b *syntax.Block) {
	for _, s := range b.Stmts {
		c.stmt(s)
	}
}

func (c *checker) stmt(s syntax.Stmt) {
	switch s := s.(type) {
	case *syntax.Block:
		c.block(s)
	case *syntax.IfStmt:
		if t := c.expr(s.Cond); !t.IsInt() && t.Kind != types.Void {
			c.errorf(s.Cond.Span(), "type", "an if condition must be an integer, not %s", t)
		}
		deadThen, deadElse := c.ifBranches(s.Cond)
		c.within(deadThen, func() { c.block(s.Then) })
		if s.Else != nil {
			c.within(deadElse, func() { c.stmt(s.Else) })
		}
	case *syntax.ExprStmt:
		if call, ok := s.X.(*syntax.CallExpr); ok && funcs.IsAggregation(call.Fun) {
			c.errorf(call.Sp, "aggregation", "%s() must be assigned to a map", call.Fun).
				Hint("for example @x = %s(...)", call.Fun)
			c.args(call)
			return
		}
		c.expr(s.X)
	case *syntax.AssignStmt:
		c.assign(s)
	case *syntax.LetStmt:
		if s.Value != nil {
			c.assign(&syntax.AssignStmt{Target: s.Var, Op: "=", Value: s.Value})
			return
		}
		if _, ok := c.cur.Vars[s.Var.Key()]; !ok {
			c.cur.Vars[s.Var.Key()] = types.None // typed by its first assignment
			c.declared[s.Var.Key()] = true
		}
	case *syntax.WhileStmt, *syntax.UnrollStmt, *syntax.ForRangeStmt, *syntax.ForMapStmt, *syntax.JumpStmt:
		c.loopStmt(s)
	}
}

// boolLiterals are the values true and false stand for.
var boolLiterals = map[string]uint64{"true": 1, "false": 0}

var aggKinds = map[string]output.Kind{
	"count": output.Count, "sum": output.Sum, "avg": output.Avg, "min": output.Min,
	"max": output.Max, "stats": output.Stats, "hist": output.Hist, "lhist": output.LHist,
	"tseries": output.TSeries,
}

func (c *checker) assign(s *syntax.AssignStmt) {
	switch target := s.Target.(type) {
	case *syntax.VarExpr:
		if s.Op != "=" {
			t, ok := c.varType(target)
			if !ok {
				c.errorf(target.Sp, "undefined", "variable $%s is used before it is assigned", target.Name)
				return
			}
			c.cur.Types[target] = t
			c.intOperand(s.Value, s.Op)
			if !t.IsInt() {
				c.errorf(s.OpSp, "type", "%s needs an integer variable; $%s is %s", s.Op, target.Name, t)
			}
			return
		}
		t, reported := c.exprReported(s.Value)
		if t.Kind == types.Void {
			if !reported {
				c.errorf(s.Value.Span(), "type", "this expression has no value to assign")
			}
			if _, ok := c.cur.Vars[target.Key()]; !ok {
				// Known, typeless: its uses add no errors of their own.
				c.cur.Vars[target.Key()] = types.None
			}
			return
		}
		if t.Kind == types.Record {
			c.errorf(s.Value.Span(), "type", "a variable cannot hold %s: a struct stays in memory", t).
				Hint("keep a pointer instead ($p = &...), or read the members you need")
			return
		}
		if t.Kind == types.Array {
			var ok bool
			if t, ok = c.arrayValue(t, s.Value); !ok {
				return
			}
		}
		if t.Kind == types.Sym || t.Kind == types.Stack || t.Kind == types.Buf {
			c.errorf(s.Value.Span(), "type", "a variable cannot hold %s in this version", t).
				Hint("use it directly as a map key or printf argument: @[%s] = count()", t)
			return
		}
		if old, ok := c.cur.Vars[target.Key()]; ok && old.Kind != types.Void {
			if !types.Same(old, t) {
				c.errorf(s.Value.Span(), "type", "$%s is %s; it cannot also hold %s", target.Name, old, t)
				return
			}
			c.cur.Vars[target.Key()] = types.Widen(old, t)
		} else {
			c.cur.Vars[target.Key()] = t
		}
		c.cur.Types[target] = c.cur.Vars[target.Key()]
	case *syntax.MapExpr:
		keys := c.keys(target)
		if call, ok := s.Value.(*syntax.CallExpr); ok && funcs.IsAggregation(call.Fun) {
			if s.Op != "=" {
				c.errorf(s.OpSp, "aggregation", "an aggregation is assigned with =, not %s", s.Op)
			}
			m := c.defineMap(target, aggKinds[call.Fun], keys, types.None)
			c.aggregation(call, m)
			return
		}
		if s.Op != "=" {
			c.intOperand(s.Value, s.Op)
			c.defineMap(target, output.Scalar, keys, types.Int64)
			return
		}
		t, reported := c.exprReported(s.Value)
		switch {
		case t.Kind == types.Ptr: // kept a pointer: ++ steps by its pointee, it prints in hex
			c.defineMap(target, output.Scalar, keys, t)
		case t.Kind == types.Bool:
			c.defineMap(target, output.Scalar, keys, types.Boolean)
		case t.IsInt():
			c.defineMap(target, output.Scalar, keys, types.Int64)
		case t.Kind == types.Array:
			if t, ok := c.arrayValue(t, s.Value); ok {
				m := c.defineMap(target, output.String, keys, t)
				if m.Kind == output.String && !types.Same(m.Value, t) {
					c.errorf(s.Value.Span(), "map-type", "%s holds %s; it cannot also hold %s", m.DisplayName(), m.Value, t)
				}
			}
		case t.Kind == types.Str || t.Kind == types.Sym || t.Kind == types.Stack || t.Kind == types.Buf || t.Kind == types.Time || t.Kind == types.Text || t.Kind == types.Tuple:
			m := c.defineMap(target, output.String, keys, t)
			if m.Kind == output.String && !types.Same(m.Value, t) {
				c.errorf(s.Value.Span(), "map-type", "%s holds %s; it cannot also hold %s", m.DisplayName(), m.Value, t)
			}
		case t.Kind == types.Void && !reported:
			c.errorf(s.Value.Span(), "type", "this expression has no value to assign")
		}
	}
}

func (c *checker) intOperand(e syntax.Expr, op string) {
	if t := c.expr(e); !t.IsInt() && t.Kind != types.Void {
		c.errorf(e.Span(), "type", "%s needs an integer, not %s", op, t)
	}
}

// keys types a map's subscripts. A single tuple subscript is the key
// parts themselves: @m[(1, 2)] is @m[1, 2].
func (c *checker) keys(m *syntax.MapExpr) []types.Type {
	var out []types.Type
	for _, k := range m.Keys {
		t, reported := c.exprReported(k)
		switch t.Kind {
		case types.Int, types.Ptr:
			out = append(out, types.UInt64)
		case types.Bool, types.Str, types.Sym, types.Stack, types.Text:
			out = append(out, t)
		case types.Array:
			t, _ = c.arrayValue(t, k)
			out = append(out, t)
		case types.Tuple:
			if len(m.Keys) == 1 {
				return t.Fields()
			}
			out = append(out, t)
		default:
			if !reported {
				c.errorf(k.Span(), "type", "a map key must be an integer, a string, an integer array, a symbol, a stack or a tuple")
			}
			out = append(out, types.UInt64)
		}
	}
	return out
}

// defineMap records or unifies a map's definition from an assignment.
func (c *checker) defineMap(e *syntax.MapExpr, kind output.Kind, keys []types.Type, value types.Type) *Map {
	m, ok := c.info.Maps[e.Name]
	if !ok {
		m = &Map{Name: e.Name, Kind: kind, Keyed: e.Keys != nil, Keys: keys, Value: value, Def: e.Sp}
		c.info.Maps[e.Name] = m
		return m
	}
	if m.Kind != kind {
		line, _ := c.info.Program.File.Position(m.Def.Start)
		had := kindName(m.Kind)
		if m.Value.Kind == types.Tuple {
			had = "a tuple"
		}
		c.errorf(e.Sp, "map-type", "%s was assigned %s on line %d; it cannot also hold %s",
			m.DisplayName(), had, line, kindName(kind))
		return m
	}
	c.unifyKeys(m, e, keys)
	if types.Same(m.Value, value) {
		m.Value = types.Widen(m.Value, value)
	}
	return m
}

func (c *checker) unifyKeys(m *Map, e *syntax.MapExpr, keys []types.Type) {
	if (e.Keys != nil) != m.Keyed || len(keys) != len(m.Keys) {
		c.errorf(e.Sp, "map-key", "%s is used with %d key(s) here but %d elsewhere", m.DisplayName(), len(keys), len(m.Keys))
		return
	}
	for i, k := range keys {
		if !types.Same(k, m.Keys[i]) {
			c.errorf(e.Keys[i].Span(), "map-key", "key %d of %s is %s here but %s elsewhere", i+1, m.DisplayName(), k, m.Keys[i])
			continue
		}
		m.Keys[i] = types.Widen(m.Keys[i], k)
	}
}

func kindName(k output.Kind) string {
	for name, kk := range aggKinds {
		if kk == k {
			return name + "()"
		}
	}
	if k == output.String {
		return "a string"
	}
	return "an integer"
}

func (c *checker) aggregation(call *syntax.CallExpr, m *Map) {
	f, _ := funcs.Lookup(call.Fun)
	if !c.argCount(f, call) {
		return
	}
	typed := true
	for i, a := range call.Args {
		if call.Fun == "tseries" && i == 3 { // the aggregation's name
			c.expr(a)
			continue
		}
		if t := c.expr(a); !t.IsInt() && t.Kind != types.Void {
			c.errorf(a.Span(), "type", "%s() needs an integer, not %s", call.Fun, t)
			typed = false
		}
	}
	if !typed {
		return
	}
	switch call.Fun {
	case "hist":
		c.histBits(call, m)
	case "tseries":
		c.tseries(call, m)
	case "lhist":
		c.lhistRange(call, m)
	}
}

// argCount reports whether call has as many arguments as f takes, and
// says how many it takes when not.
func (c *checker) argCount(f *funcs.Func, call *syntax.CallExpr) bool {
	if len(call.Args) >= f.Min && len(call.Args) <= f.Max {
		return true
	}
	want := fmt.Sprint(f.Min)
	if f.Max != f.Min {
		want = fmt.Sprintf("%d to %d", f.Min, f.Max)
	}
	c.errorf(call.Sp, "arguments", "%s() takes %s argument(s), got %d", call.Fun, want, len(call.Args))
	return false
}

// args types the arguments of a call that is wrong already. A whole map
// may be what the call meant to take, print(@h) or heatmap(@h), so it is
// not read as a value: that would report a second, misleading error.
func (c *checker) args(call *syntax.CallExpr) {
	for _, a := range call.Args {
		if m, ok := a.(*syntax.MapExpr); ok && m.Keys == nil {
			c.cur.Types[m] = types.None
			continue
		}
		c.expr(a)
	}
}

// stackBuiltins are the stack identifiers, bare or called with a mode and
// a depth.
var stackBuiltins = map[string]types.AddrSpace{"kstack": types.Kernel, "ustack": types.User}

// DefaultStackDepth is the depth of a stack without one, and the most
// frames a stack may keep: the kernel's default perf_event_max_stack.
const DefaultStackDepth = 127

// stackModes are how stack frames print.
var stackModes = []string{"bpftrace", "perf", "raw"}

// BuiltinNames returns the bare identifiers with values (pid, comm, ...),
// sorted: ebtrace shell completes them.
func BuiltinNames() []string { return slices.Sorted(maps.Keys(builtins)) }

// builtins are the bare identifiers with values.
var builtins = map[string]types.Type{
	"pid":     types.IntOf(4, false),
	"tid":     types.IntOf(4, false),
	"uid":     types.IntOf(4, false),
	"gid":     types.IntOf(4, false),
	"cpu":     types.IntOf(4, false),
	"cpid":    types.IntOf(4, false),
	"nsecs":   types.UInt64,
	"elapsed": types.UInt64,
	"comm":    types.String(16),
	"curtask": types.Pointer("struct task_struct", types.Kernel),
}

func (c *checker) expr(e syntax.Expr) types.Type {
	t := c.exprType(e)
	if t.Kind == types.Bool && c.noBool {
		t = types.Int64
	}
	c.cur.Types[e] = t
	return t
}

// exprReported types e and tells whether that reported an error, so that a
// caller does not report a mere consequence of it again.
func (c *checker) exprReported(e syntax.Expr) (types.Type, bool) {
	n := len(c.diag.Items)
	t := c.expr(e)
	return t, len(c.diag.Items) > n
}

func (c *checker) exprType(e syntax.Expr) types.Type {
	switch e := e.(type) {
	case *syntax.IntLit:
		if e.Value > 1<<63-1 {
			return types.UInt64
		}
		return types.Int64
	case *syntax.StringLit:
		if len(e.Value)+1 > 200 {
			c.errorf(e.Sp, "string", "string literal is longer than 200 bytes")
		}
		return types.String(len(e.Value) + 1)
	case *syntax.Ident:
		if v, ok := boolLiterals[e.Name]; ok {
			c.cur.Consts[e] = v
			return types.Boolean
		}
		if t, ok := builtins[e.Name]; ok {
			return t
		}
		if t, ok := sysBuiltins[e.Name]; ok {
			return t
		}
		if space, ok := stackBuiltins[e.Name]; ok {
			c.noContext(e.Sp, e.Name)
			return types.StackOf(space, c.info.Config.StackMode, DefaultStackDepth)
		}
		if e.Name == "probe" {
			return types.String(len(c.cur.Instance.Name()) + 1)
		}
		if arg, ok := c.cur.Instance.Builtin(e.Name); ok {
			if arg.Type.Kind != types.Str || arg.Text == "" {
				c.noContext(e.Sp, e.Name)
			}
			c.cur.Args[e] = arg
			return arg.Type
		}
		if e.Name == "args" {
			c.errorf(e.Sp, "args", "args is a structure; use args.FIELD").Hint("list the fields with: ebtrace -lv '%s'", c.cur.Instance.Name())
			return types.None
		}
		if f, ok := funcs.Lookup(e.Name); ok && f.Bare {
			call := &syntax.CallExpr{Fun: e.Name, FunSp: e.Sp, Sp: e.Sp}
			c.cur.Rewrites[e] = call
			return c.expr(call)
		}
		if t, v, ok := c.types.EnumConstant(e.Name); ok {
			c.cur.Consts[e] = v
			return t
		}
		if v, en, ok := c.env.EnumValue(e.Name); ok {
			c.cur.Consts[e] = uint64(v)
			return c.types.EnumType(en)
		}
		c.unknownIdent(e)
		return types.None
	case *syntax.VarExpr:
		t, ok := c.varType(e)
		if !ok {
			d := c.errorf(e.Sp, "undefined", "variable $%s is used before it is assigned", e.Name)
			if close := source.Closest(e.Name, c.varNames(), 2); len(close) > 0 {
				d.Hint("did you mean $%s?", strings.Join(close, ", $"))
			}
			return types.Int64
		}
		return t
	case *syntax.ParamExpr:
		return c.param(e)
	case *syntax.MapExpr:
		return c.mapRead(e)
	case *syntax.FieldExpr:
		return c.field(e)
	case *syntax.CallExpr:
		return c.call(e)
	case *syntax.UnaryExpr:
		switch e.Op {
		case "*":
			return c.deref(e)
		case "&":
			return c.addressOf(e)
		}
		if t, reported := c.exprReported(e.X); !t.IsInt() && !reported {
			c.errorf(e.Sp, "type", "%s needs an integer, not %s", e.Op, t)
		}
		if e.Op == "!" {
			return types.Boolean
		}
		return types.Int64
	case *syntax.IncDecExpr:
		switch x := e.X.(type) {
		case *syntax.VarExpr:
			t, ok := c.varType(x)
			if !ok {
				c.errorf(x.Sp, "undefined", "variable $%s is used before it is assigned", x.Name)
			} else if !t.IsInt() {
				c.errorf(e.Sp, "type", "%s needs an integer variable; $%s is %s", e.Op, x.Name, t)
			}
			c.cur.Types[x] = t
			if t.Kind == types.Ptr { // steps by the pointee's size, as in C
				c.pointerStep(e, t)
				return t
			}
		case *syntax.MapExpr:
			m := c.defineMap(x, output.Scalar, c.keys(x), types.Int64)
			if m.Value.Kind == types.Ptr {
				c.pointerStep(e, m.Value)
				return m.Value
			}
		default:
			c.errorf(e.Sp, "type", "%s applies to a variable or a map", e.Op)
		}
		return types.Int64
	case *syntax.BinaryExpr:
		return c.binary(e)
	case *syntax.CastExpr:
		return c.cast(e)
	case *syntax.IndexExpr:
		return c.index(e)
	case *syntax.SizeofExpr:
		return c.sizeof(e)
	case *syntax.OffsetofExpr:
		return c.offsetof(e)
	case *syntax.TupleExpr:
		return c.tupleExpr(e)
	case *syntax.BlockExpr:
		for _, s := range e.Body() {
			c.stmt(s)
		}
		return c.expr(e.Value())
	case *syntax.TupleIndex:
		return c.indexExpr(e)
	case *syntax.CondExpr:
		if t, reported := c.exprReported(e.Cond); !t.IsInt() && !reported {
			c.errorf(e.Cond.Span(), "type", "a condition must be an integer, not %s", t)
		}
		n := len(c.diag.Items)
		a, b := c.expr(e.Then), c.expr(e.Else)
		if !types.Same(a, b) {
			if len(c.diag.Items) == n {
				c.errorf(e.Span(), "type", "both branches of ?: must have the same type; they are %s and %s", a, b)
			}
			return a
		}
		if a.Kind == types.Str {
			return types.String(max(a.Size, b.Size))
		}
		if a.Kind == types.Buf {
			c.errorf(e.Span(), "type", "?: cannot choose between buffers").Hint("print each buffer in its own branch of an if")
		}
		if a.Kind == types.Array || a.Kind == types.Record {
			c.errorf(e.Span(), "type", "?: cannot choose between values of %s", a).Hint("use each value in its own branch of an if")
		}
		if a.IsInt() {
			return types.Int64
		}
		if a.Kind == types.Tuple {
			c.errorf(e.Span(), "type", "?: cannot choose between tuples in this version").
				Hint("use if and else to assign one tuple or the other")
		}
		return a
	}
	return types.None
}

func (c *checker) unknownIdent(e *syntax.Ident) {
	if c.learning { // its error, hints and header search come in the second walk
		return
	}
	names := slices.Sorted(maps.Keys(builtins))
	names = append(names, "probe", "args")
	names = append(names, slices.Sorted(maps.Keys(sysBuiltins))...)
	names = append(names, funcs.BareNames()...)
	if slices.Contains(probe.BuiltinNames, e.Name) {
		c.errorf(e.Sp, "undefined", "%s is not defined in %s probes", e.Name, strings.SplitN(c.cur.Instance.Name(), ":", 2)[0]).
			Hint("list what each probe offers with: ebtrace -lv '%s'", c.cur.Instance.Name())
		return
	}
	d := c.errorf(e.Sp, "undefined", "unknown identifier %q", e.Name)
	if close := source.Closest(e.Name, names, 3); len(close) > 0 {
		d.Hint("did you mean %s?", strings.Join(close, ", "))
	}
	if _, ok := funcs.Lookup(e.Name); ok {
		d.Hint("%s is a function: write %s()", e.Name, e.Name)
	}
	switch header, kernelOnly := c.macroHeader(e.Name); {
	case kernelOnly:
		d.Hint("%s is a macro of the kernel's own <%s>, which the header of that name in /usr/include (the kernel's user-space API) does not define; it is not an enum value in the kernel's BTF either: define it in the script (#define %s VALUE, the value from the kernel's source)", e.Name, header, e.Name)
	case header != "":
		d.Hint("%s is not an enum value in the kernel's BTF but a macro of <%s>: add #include <%s>", e.Name, header, header)
	}
}

func (c *checker) mapRead(e *syntax.MapExpr) types.Type {
	keys := c.keys(e)
	m, ok := c.lookupMap(e, keys)
	if !ok {
		if !c.learning {
			d := c.unassigned(e.Sp, e.Name, "read but never assigned")
			if close := source.Closest(e.Name, c.info.MapNames(), 2); len(close) > 0 {
				d.Hint("did you mean @%s?", strings.Join(close, ", @"))
			}
		}
		return types.Int64
	}
	c.unifyKeys(m, e, keys)
	switch {
	case m.Kind == output.Scalar, m.Kind == output.String:
		return m.Value
	case m.Kind.PerCPU(): // combined across CPUs as it is read
		return types.Int64
	}
	c.errorf(e.Sp, "map-read", "@%s holds %s, which has no single value for a probe to read", e.Name, kindName(m.Kind)).
		Hint("print(@%s) shows it; a probe reads maps of count(), sum(), min(), max() and avg()", e.Name)
	return types.Int64
}

func (c *checker) field(e *syntax.FieldExpr) types.Type {
	id, ok := e.X.(*syntax.Ident)
	if !ok || id.Name != "args" {
		return c.member(e)
	}
	c.cur.Types[e.X] = types.None
	c.noContext(e.Span(), "args."+e.Name)
	arg, err := c.cur.Instance.Arg(e.Name)
	if err != nil {
		var pe *probe.Error
		msg := err.Error()
		var hints []string
		if errors.As(err, &pe) {
			msg, hints = pe.Msg, pe.Hints
		}
		if !c.learning {
			c.diag.Add(e.NameSp, "unknown-field", "%s", msg).Hints = hints
		}
		return types.None
	}
	c.cur.Args[e] = arg
	return arg.Type
}

func (c *checker) call(e *syntax.CallExpr) types.Type {
	f, ok := funcs.Lookup(e.Fun)
	switch {
	case !ok && len(e.Args) == 0 && c.isBuiltin(e.Fun):
		// pid() is pid, as bpftrace's standard library has it.
		id := &syntax.Ident{Name: e.Fun, Sp: e.FunSp}
		c.cur.Rewrites[e] = id
		return c.expr(id)
	case !ok:
		d := c.errorf(e.FunSp, "undefined", "unknown function %s()", e.Fun)
		if close := source.Closest(e.Fun, funcs.Names(), 3); len(close) > 0 {
			d.Hint("did you mean %s()?", strings.Join(close, "(), "))
		}
		c.args(e)
		return types.None
	case f.Aggregation:
		c.errorf(e.Sp, "aggregation", "%s() must be assigned to a map", e.Fun).Hint("for example @x = %s(...)", e.Fun)
		c.args(e)
		return types.None
	case !c.argCount(f, e):
		c.args(e)
		return types.None
	}
	if f.Unsafe && !c.env.Unsafe {
		c.errorf(e.Sp, "unsafe", "%s() changes the system, which is allowed only in unsafe mode", e.Fun).
			Hint("run ebtrace with --unsafe to allow %s()", strings.Join(funcs.UnsafeNames(), "(), "))
	}
	if f.Check != nil {
		return f.Check(funcChecker{c}, e)
	}
	return c.coreCall(e)
}

// deleteKey types delete(@m, KEY), the current dialect's form: it stands
// for delete(@m[KEY]), a tuple KEY naming the parts of a key of several.
func (c *checker) deleteKey(e *syntax.CallExpr, m *syntax.MapExpr) types.Type {
	if m.Keys != nil {
		c.args(e)
		c.errorf(e.Args[0].Span(), "arguments", "delete(@map, key) takes the whole map first, not an element").
			Hint("write delete(@%s, key) or delete(@%s[key])", m.Name, m.Name)
		return types.None
	}
	keys := []syntax.Expr{e.Args[1]}
	if t, ok := e.Args[1].(*syntax.TupleExpr); ok {
		keys = t.Elems
	}
	one := &syntax.CallExpr{Fun: e.Fun, FunSp: e.FunSp, Sp: e.Sp, Args: []syntax.Expr{&syntax.MapExpr{Name: m.Name, Keys: keys, Sp: m.Sp}}}
	c.cur.Types[m] = types.None
	c.cur.Rewrites[e] = one
	return c.expr(one)
}

// isBuiltin reports whether name is a builtin value of the current probe:
// pid, comm, func, retval, ...
func (c *checker) isBuiltin(name string) bool {
	if _, ok := builtins[name]; ok {
		return true
	}
	if _, ok := boolLiterals[name]; ok {
		return true
	}
	if _, ok := sysBuiltins[name]; ok {
		return true
	}
	_, ok := c.cur.Instance.Builtin(name)
	return ok || name == "probe"
}

// coreCall types a call of one of the language's own functions (see
// package funcs) whose argument count is right.
func (c *checker) coreCall(e *syntax.CallExpr) types.Type {
	switch e.Fun {
	case "printf":
		c.printf(e)
		return types.None
	case "str":
		t := c.strSource(e.Args[0])
		switch t.Kind {
		case types.Str:
		case types.Ptr:
		case types.Int:
			// A 64-bit integer is an address, kept in a map or a
			// variable; a narrower one cannot be.
			if t.Size < 8 {
				c.errorf(e.Args[0].Span(), "type", "str() needs a pointer or a string, not %s", t).
					Hint("str() reads a NUL-terminated string from memory, at a pointer or a 64-bit address")
			}
		case types.Sym, types.Stack, types.Text:
			c.errorf(e.Args[0].Span(), "type", "str() needs a pointer or a string, not %s", t).
				Hint("printf(\"%%s\", ...) prints a %s as text", t)
		}
		// The size counts the terminating NUL, as bpftrace's does:
		// str(p, 4) holds at most 3 characters.
		size := c.info.Config.MaxStrlen
		if len(e.Args) == 2 {
			if lit, ok := e.Args[1].(*syntax.IntLit); ok {
				if lit.Value == 0 || lit.Value > uint64(c.strCap()) {
					c.errorf(lit.Sp, "arguments", "str() length must be 1 to %d", c.strCap()).
						Hint("max_strlen in the config block or BPFTRACE_MAX_STRLEN raises the limit")
				} else {
					size = int(lit.Value)
				}
			} else {
				c.errorf(e.Args[1].Span(), "arguments", "str() length must be an integer literal")
			}
		}
		if t.Kind == types.Str {
			if len(e.Args) == 2 && size < t.Size {
				return types.String(size)
			}
			return t
		}
		return types.String(size)
	case "errorf", "warnf", "system", "cat":
		c.printf(e)
		return types.None
	case "assert":
		c.assert(e)
		return types.None
	case "exit":
		if len(e.Args) == 1 {
			if t, reported := c.exprReported(e.Args[0]); !t.IsInt() && !reported {
				c.errorf(e.Args[0].Span(), "type", "exit() takes an exit code, an integer, not %s", t)
			}
		}
		return types.None
	case "buf":
		return c.buf(e)
	case "join":
		c.join(e)
		return types.None
	case "kstack", "ustack":
		c.noContext(e.Sp, e.Fun+"()")
		return c.stack(e)
	case "len":
		return c.length(e)
	case "has_key":
		return c.hasKey(e)
	case "find":
		return c.find(e)
	case "delete":
		m, ok := e.Args[0].(*syntax.MapExpr)
		if ok && len(e.Args) == 2 {
			return c.deleteKey(e, m)
		}
		if !ok {
			c.errorf(e.Args[0].Span(), "arguments", "delete() takes a map element such as @x[key], or a map without keys")
			return types.None
		}
		keys := c.keys(m)
		if mm, ok := c.lookupMap(m, keys); ok {
			if m.Keys == nil && mm.Keyed {
				c.errorf(m.Sp, "arguments", "delete() removes one key of %s, which has keys: name it, as in delete(@%s[key])", mm.DisplayName(), m.Name).
					Hint("clear(@%s) removes every key", m.Name)
				return types.None
			}
			c.unifyKeys(mm, m, keys)
			if mm.Kind.Bucketed() {
				what, parts := bucketed(mm)
				c.errorf(e.Sp, "arguments", "delete() cannot remove one key of %s yet: its %s are separate elements", what, parts).
					Hint("clear(@%s) removes every key", m.Name)
			}
		} else if !c.learning {
			c.unassigned(m.Sp, m.Name, "never assigned")
		}
		return types.Boolean // whether the key was there
	case "clear", "zero", "print":
		m, ok := e.Args[0].(*syntax.MapExpr)
		if e.Fun == "print" && (!ok || m.Keys != nil) {
			if len(e.Args) > 1 {
				c.errorf(e.Args[1].Span(), "arguments", "print() of a value takes no other argument").
					Hint("print(@map, TOP, DIV) limits and divides a whole map")
			}
			c.printValue(e)
			return types.None
		}
		if !ok || m.Keys != nil {
			c.errorf(e.Args[0].Span(), "arguments", "%s() takes a whole map such as @x", e.Fun)
			return types.None
		}
		if e.Fun == "print" {
			c.printLimits(e)
		}
		if _, ok := c.lookupMap(m, nil); !ok && !c.learning {
			c.unassigned(m.Sp, m.Name, "never assigned")
		}
		c.cur.Types[m] = types.None
		return types.None
	}
	c.errorf(e.Sp, "internal", "ebtrace has no type rule for %s()", e.Fun)
	c.args(e)
	return types.None
}

// printLimits checks print(@map, TOP, DIV): TOP, the number of entries
// printed (the greatest; 0 prints all), and DIV, what values are divided
// by, are integer literals known now.
func (c *checker) printLimits(e *syntax.CallExpr) {
	for i, a := range e.Args[1:] {
		lit, ok := a.(*syntax.IntLit)
		c.expr(a)
		switch {
		case !ok:
			c.errorf(a.Span(), "arguments", "print()'s %s must be an integer literal", []string{"TOP", "DIV"}[i])
		case i == 1 && lit.Value == 0:
			c.errorf(a.Span(), "arguments", "print() cannot divide by 0")
		case lit.Value > math.MaxInt64:
			c.errorf(a.Span(), "arguments", "print()'s %s is too large", []string{"TOP", "DIV"}[i])
		}
	}
}

// stack types kstack(MODE, DEPTH), either argument optional.
func (c *checker) stack(e *syntax.CallExpr) types.Type {
	mode, depth := c.info.Config.StackMode, DefaultStackDepth
	args := e.Args
	if len(args) > 0 {
		if id, ok := args[0].(*syntax.Ident); ok {
			if slices.Contains(stackModes, id.Name) {
				mode = id.Name
			} else {
				d := c.errorf(id.Sp, "arguments", "unknown stack mode %q", id.Name).Hint("modes: %s", strings.Join(stackModes, ", "))
				if close := source.Closest(id.Name, stackModes, 3); len(close) > 0 {
					d.Hint("did you mean %s?", strings.Join(close, ", "))
				}
			}
			c.cur.Types[id] = types.None
			args = args[1:]
		}
	}
	if len(args) > 0 {
		lit, ok := args[0].(*syntax.IntLit)
		switch {
		case !ok:
			c.errorf(args[0].Span(), "arguments", "%s() depth must be an integer literal", e.Fun)
		case lit.Value < 1 || lit.Value > DefaultStackDepth:
			c.errorf(lit.Sp, "arguments", "%s() depth must be 1 to %d", e.Fun, DefaultStackDepth)
		default:
			depth = int(lit.Value)
		}
		if len(args) > 1 {
			c.errorf(args[1].Span(), "arguments", "%s() takes a mode and a depth, in that order", e.Fun)
		}
	}
	return types.StackOf(stackBuiltins[e.Fun], mode, depth)
}

// assert checks assert(COND, MSG): the failure's record is a printf of
// MSG, which may be any string.
func (c *checker) assert(e *syntax.CallExpr) {
	if t, reported := c.exprReported(e.Args[0]); !t.IsInt() && !reported {
		c.errorf(e.Args[0].Span(), "type", "assert() needs a condition, an integer, not %s", t)
	}
	if t, reported := c.exprReported(e.Args[1]); t.Kind != types.Str && !reported {
		c.errorf(e.Args[1].Span(), "type", "assert() needs a message, a string, not %s", t)
	}
	f, _ := printf.Parse(AssertFormat)
	c.info.Printfs[e] = f
}

// AssertFormat is what a failed assert() reports, its message for %s.
const AssertFormat = "assertion failed: %s"

func (c *checker) printf(e *syntax.CallExpr) {
	lit, ok := e.Args[0].(*syntax.StringLit)
	if !ok {
		c.errorf(e.Args[0].Span(), "printf", "%s() needs a string literal as its format", e.Fun)
		c.args(e)
		return
	}
	c.cur.Types[lit] = types.String(len(lit.Value) + 1)
	f, err := printf.Parse(lit.Value)
	if err != nil {
		funcs.FormatError(funcChecker{c}, lit, err, "printf")
		c.args(e)
		return
	}
	c.info.Printfs[e] = f
	c.gfpNames(f, lit)
	verbs := f.Verbs()
	args := e.Args[1:]
	for i, a := range args {
		t := c.expr(a)
		if i >= len(verbs) {
			continue
		}
		v := verbs[i]
		switch {
		case t.Kind == types.Void:
		case t.Kind == types.Tuple:
			c.errorf(a.Span(), "printf", "printf() cannot format a tuple").
				Hint("print it with print(), or pass its elements: $t.0, $t.1")
		case t.Kind == types.Array:
			c.errorf(a.Span(), "printf", "printf() cannot format an array").
				Hint("print it with print(), or pass its elements: $a[0], $a[1]")
		case v.WantsBuffer() || t.Kind == types.Buf:
			c.bufferVerb(a, v, t)
		case v.WantsString() && (printsAsText(t) || t.Enum() != ""):
			// An enum's value prints by its name.
		case !v.WantsString() && printsAsText(t):
			c.errorf(a.Span(), "printf", "%s needs an integer, but this is %s", v.Name(), t).Hint("use %%s to print %s", t)
		case v.WantsString() && t.Kind != types.Str:
			d := c.errorf(a.Span(), "printf", "%%%c needs a string, but this is %s", v.Conv, t).
				Hint("use %%d for integers, or str() to read a string")
			if t.Kind == types.Int {
				d.Hint("%%s prints an enum's value by its name: cast it to its enum, (enum NAME)x")
			}
		case !v.WantsString() && t.Kind == types.Str:
			c.errorf(a.Span(), "printf", "%s needs an integer, but this is %s", v.Name(), t).Hint("use %%s for strings")
		}
	}
	if len(args) != len(verbs) {
		c.errorf(e.Sp, "printf", "the format has %d conversion(s) but %d argument(s) follow", len(verbs), len(args))
	}
}

func (c *checker) binary(e *syntax.BinaryExpr) types.Type {
	a, b := c.expr(e.X), c.expr(e.Y)
	if a.Kind == types.Void || b.Kind == types.Void {
		return types.Int64
	}
	switch e.Op {
	case "==", "!=":
		if a.Kind == types.Str && b.Kind == types.Str || a.IsInt() && b.IsInt() {
			return types.Boolean
		}
		if a.Kind == types.Array && b.Kind == types.Array {
			c.arrayCompare(e, a, b)
			return types.Int64
		}
		c.errorf(e.OpSp, "type", "cannot compare %s with %s", a, b)
		return types.Boolean
	case "&&", "||":
		if !a.IsInt() || !b.IsInt() {
			c.errorf(e.OpSp, "type", "%s needs integers, not %s and %s", e.Op, a, b)
		}
		return types.Boolean
	}
	if !a.IsInt() || !b.IsInt() {
		d := c.errorf(e.OpSp, "type", "%s needs integers, not %s and %s", e.Op, a, b)
		if a.Kind == types.Str && b.Kind == types.Str && e.Op != "+" {
			d.Hint("strings support only == and !=")
		}
		return types.Int64
	}
	switch e.Op {
	case "<", "<=", ">", ">=":
		return types.Boolean
	}
	if (e.Op == "+" || e.Op == "-") && a.Kind == types.Ptr && b.Kind == types.Int {
		c.pointerStep(e, a)
		return a
	}
	if e.Op == "+" && a.Kind == types.Int && b.Kind == types.Ptr {
		c.pointerStep(e, b)
		return b
	}
	if !a.Signed && !b.Signed && a.Kind == types.Int && b.Kind == types.Int {
		return types.UInt64
	}
	return types.Int64
}
