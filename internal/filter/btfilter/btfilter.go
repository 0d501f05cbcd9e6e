// Package btfilter compiles a bpftrace predicate (ebtrace record's
// --filter-bt '/expr/') into a BPF filter for one tracepoint, through
// ebtrace's own compiler: the predicate becomes the script
// "tracepoint:CAT:NAME /expr/ { }", compiled so that its program returns 1
// when the predicate holds and 0 otherwise. The program is of type
// tracepoint, so it can be attached to a perf event with
// PERF_EVENT_IOC_SET_BPF.
package btfilter

import (
	"fmt"
	"strings"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// FileName names the generated script in diagnostics.
const FileName = "--filter-bt"

// Compile compiles pred, with or without its surrounding slashes, for the
// tracepoint tp. The result's Spec() is the collection to load (the
// program reads ebtrace's config map, and may use its other maps); its
// only program is Programs[0]. Script problems are *source.Diagnostics
// against the generated script, whose text shows the predicate in place.
func Compile(pred string, tp kernel.Tracepoint, env *probe.Env) (*compile.Result, error) {
	expr := strings.TrimSpace(pred)
	if len(expr) >= 2 && strings.HasPrefix(expr, "/") && strings.HasSuffix(expr, "/") {
		expr = strings.TrimSpace(expr[1 : len(expr)-1])
	}
	prefix := fmt.Sprintf("tracepoint:%s:%s /", tp.Category, tp.Name)
	file := source.NewFile(FileName, prefix+expr+"/ { }")
	predSpan := source.Span{Start: source.Pos(len(prefix)), End: source.Pos(len(prefix) + len(expr))}
	diags := &source.Diagnostics{File: file}
	if expr == "" {
		diags.Add(predSpan, "syntax", "empty predicate").
			Hint("write a bpftrace predicate such as '/pid == 1234/'")
		return nil, diags
	}
	ast, err := syntax.Parse(file)
	if err != nil {
		return nil, err
	}
	if p := ast.Probes; len(p) != 1 || len(p[0].Attach) != 1 || p[0].Pred == nil || len(p[0].Body.Stmts) != 0 ||
		p[0].Pred.Span().Start < predSpan.Start || p[0].Pred.Span().End > predSpan.End {
		diags.Add(predSpan, "syntax", "--filter-bt takes one predicate expression").
			Hint("write the expression between slashes only, e.g. '/args.count > 4096/'")
		return nil, diags
	}
	return compile.Compile(file, all.Registry(), env, compile.Options{
		Plan:           plan.DefaultOptions,
		TaskCommOffset: kernel.TaskCommOffset,
		KeepOnPass:     true,
	})
}
