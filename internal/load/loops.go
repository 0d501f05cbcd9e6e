package load

import (
	"errors"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// loopVerdicts are how the verifier says it gave up following a loop.
var loopVerdicts = []string{
	"BPF program is too large",
	"infinite loop detected",
	"jumps is too complex",
}

// loopHint tells how to make a loop provably finite.
const loopHint = "bound it with a counter the verifier can follow, e.g. while ($i < 100) { ...; $i++; }, or use for ($i : 0..100) with constant bounds"

// loopError reports a program the verifier rejected because it could not
// bound one of its loops: at the innermost loop holding the instruction it
// stopped at, or the suspect loop when the kernel said no more (EFAULT:
// some kernels fail a too-complex loop with it and no log).
// It returns nil when the rejection is not about a loop.
func loopError(r *compile.Result, err error) *VerifierError {
	var ve *ebpf.VerifierError
	var pe *ProgramError
	hasLog := errors.As(err, &ve) && len(ve.Log) > 0
	if !errors.As(err, &pe) || !hasLog && !errors.Is(err, unix.EFAULT) {
		return nil
	}
	for _, p := range r.Programs {
		if p.Name != pe.Program {
			continue
		}
		loops := loopsOf(p.Instance.Probe)
		if len(loops) == 0 {
			return nil
		}
		loop, verdict := suspect(loops), "the kernel gave up verifying the probe"
		var log []string
		if hasLog {
			log = ve.Log
			pos, last := failingPosition(p.Insns, ve.Log)
			if !isLoopVerdict(last) {
				return nil
			}
			verdict = last
			if inner := innermost(loops, pos); inner != nil {
				loop = inner
			}
		}
		d := &source.Diagnostics{File: r.File}
		d.Add(loop.Span(), "verifier", "the verifier could not prove this loop ends (in %s): %s", p.Instance.Instance.Name(), verdict).
			Hint("%s", loopHint)
		return &VerifierError{Diag: d, Log: log}
	}
	return nil
}

func isLoopVerdict(msg string) bool {
	for _, v := range loopVerdicts {
		if strings.Contains(msg, v) {
			return true
		}
	}
	return false
}

// loopsOf returns the loops of a probe that jump back, outer loops
// first. A for over a map is not one: the kernel's helper bounds it.
func loopsOf(p *syntax.Probe) []syntax.Stmt {
	var loops []syntax.Stmt
	syntax.Inspect(p, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.WhileStmt:
			loops = append(loops, n)
		case *syntax.ForRangeStmt:
			loops = append(loops, n)
		}
		return true
	})
	return loops
}

// innermost returns the last (most deeply nested) loop containing pos.
func innermost(loops []syntax.Stmt, pos *emit.Position) syntax.Stmt {
	if pos == nil {
		return nil
	}
	var in syntax.Stmt
	for _, l := range loops {
		if sp := l.Span(); sp.Start <= pos.Span.Start && pos.Span.End <= sp.End {
			in = l
		}
	}
	return in
}

// suspect guesses which loop the verifier could not bound without its
// log: the first whose bound is not a constant, else the first.
func suspect(loops []syntax.Stmt) syntax.Stmt {
	for _, l := range loops {
		switch l := l.(type) {
		case *syntax.WhileStmt:
			if c, ok := l.Cond.(*syntax.BinaryExpr); ok && (isLit(c.X) || isLit(c.Y)) {
				continue
			}
		case *syntax.ForRangeStmt:
			if isLit(l.Start) && isLit(l.End) {
				continue
			}
		}
		return l
	}
	return loops[0]
}

func isLit(e syntax.Expr) bool {
	_, ok := e.(*syntax.IntLit)
	return ok
}
