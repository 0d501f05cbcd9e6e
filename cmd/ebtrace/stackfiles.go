package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/flame"
	"github.com/ebtrace/ebtrace/internal/tracer"
)

// stackOutput is one file the stack maps are written to at exit.
type stackOutput struct {
	option, path string
	write        func(io.Writer, []flame.Sample) error
}

// stackOutputs lists the stack files the options ask for.
func stackOutputs(o *options, title string) []stackOutput {
	var out []stackOutput
	if o.folded != "" {
		out = append(out, stackOutput{"--folded", o.folded, flame.Folded})
	}
	if o.flamegraph != "" {
		out = append(out, stackOutput{"--flamegraph", o.flamegraph, func(w io.Writer, s []flame.Sample) error {
			return flame.SVG(w, s, title)
		}})
	}
	if o.pprof != "" {
		out = append(out, stackOutput{"--pprof", o.pprof, flame.Pprof})
	}
	return out
}

// checkStackOutputs fails before anything is attached when a stack file is
// asked for but no map could fill it.
func checkStackOutputs(outs []stackOutput, res *compile.Result) error {
	if len(outs) == 0 || len(tracer.StackMaps(res.Plan)) > 0 {
		return nil
	}
	return fmt.Errorf("%s needs a map keyed by a stack and counting or summing, such as @[kstack] = count() or @[ustack, comm] = sum(arg0); this script has none", outs[0].option)
}

// writeStackOutputs writes the session's stack maps to each file.
func writeStackOutputs(outs []stackOutput, sess *tracer.Session) error {
	if len(outs) == 0 {
		return nil
	}
	samples, err := sess.Samples()
	if err != nil {
		return err
	}
	var errs []error
	for _, so := range outs {
		if err := writeFile(so.path, func(w io.Writer) error { return so.write(w, samples) }); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", so.option, so.path, err))
		}
	}
	return errors.Join(errs...)
}

// writeFile creates path and writes it with write, reporting the first
// error of either.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// flameTitle names a flame graph after the script, on one line.
func flameTitle(o *options) string {
	if o.program != "" {
		return "ebtrace -e '" + strings.Join(strings.Fields(o.program), " ") + "'"
	}
	return "ebtrace " + o.file
}
