package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ebtrace/ebtrace"
)

// stackOutput is one file the stack maps are written to at exit.
type stackOutput struct {
	option, path string
	format       ebtrace.StackFormat
}

// stackOutputs lists the stack files the options ask for.
func stackOutputs(o *options) []stackOutput {
	var out []stackOutput
	for _, so := range []stackOutput{
		{"--folded", o.folded, ebtrace.StacksFolded},
		{"--flamegraph", o.flamegraph, ebtrace.StacksFlameGraph},
		{"--pprof", o.pprof, ebtrace.StacksPprof},
	} {
		if so.path != "" {
			out = append(out, so)
		}
	}
	return out
}

// writeStackOutputs writes the session's stack maps to each file.
func writeStackOutputs(outs []stackOutput, sess *ebtrace.Session, title string) error {
	var errs []error
	for _, so := range outs {
		if err := writeFile(so.path, func(w io.Writer) error { return sess.WriteStacks(w, so.format, title) }); err != nil {
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
