package ebtrace

import (
	"fmt"
	"io"

	"github.com/ebtrace/ebtrace/internal/flame"
	"github.com/ebtrace/ebtrace/internal/tracer"
)

// StackFormat is a way of writing a session's stacks.
type StackFormat string

// The stack formats.
const (
	// StacksFolded is one line per stack, frames root first and
	// separated by semicolons, then a space and the stack's value: the
	// input of flamegraph.pl and speedscope.
	StacksFolded StackFormat = "folded"
	// StacksFlameGraph is an interactive SVG flame graph.
	StacksFlameGraph StackFormat = "flamegraph"
	// StacksPprof is a gzipped pprof profile, for go tool pprof.
	StacksPprof StackFormat = "pprof"
)

// StackMaps names the maps WriteStacks draws from: those keyed by a
// stack (kstack, ustack) that count or sum, such as @[kstack] = count().
func (s *Script) StackMaps() []string {
	var names []string
	for _, pm := range tracer.StackMaps(s.res.Plan) {
		names = append(names, "@"+pm.Name)
	}
	return names
}

// WriteStacks writes the stacks of the script's StackMaps to w in format:
// each key is one stack, root first, its other key parts (a comm, say)
// as frames above the user stack, the user stack above the kernel stack,
// weighted by the map's value. While the session runs they are read now;
// after it ended, as they were at exit. title heads a flame graph.
func (s *Session) WriteStacks(w io.Writer, format StackFormat, title string) error {
	write, ok := map[StackFormat]func(io.Writer, []flame.Sample) error{
		StacksFolded:     flame.Folded,
		StacksFlameGraph: func(w io.Writer, samples []flame.Sample) error { return flame.SVG(w, samples, title) },
		StacksPprof:      flame.Pprof,
	}[format]
	if !ok {
		return fmt.Errorf("stack format %q: the formats are %q, %q and %q", format, StacksFolded, StacksFlameGraph, StacksPprof)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	samples := s.samples
	if s.final == nil {
		var err error
		if samples, err = s.tr.Samples(); err != nil {
			return err
		}
	}
	return write(w, samples)
}
