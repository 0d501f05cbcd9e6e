// Command ebtrace compiles bpftrace-language scripts to eBPF, attaches them
// and prints what they collect. This package is only the command line:
// flags, exit codes and the wiring of the pipeline's stages.
package main

import (
	"context"
	"strings"

	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/ebtrace/ebtrace"
)

const version = "ebtrace v0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "record" {
		return runRecord(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "shell" {
		return runShell(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "run" {
		return runObject(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		return runServe(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "replay" {
		return runReplay(args[1:], stdout, stderr)
	}
	o, err := parseArgs(args)
	if err != nil {
		return badUsage(stderr, "ebtrace", err)
	}
	switch {
	case o.help:
		io.WriteString(stdout, usage())
		return 0
	case o.version:
		fmt.Fprintln(stdout, version)
		return 0
	case o.info:
		if err := ebtrace.WriteInfo(stdout); err != nil {
			return fail(stderr, err)
		}
		return 0
	case o.list:
		if err := ebtrace.List(stdout, o.pattern, ebtrace.ListOptions{Verbose: o.verbose, PID: o.pid, Log: stderr}); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	name, src, err := readScript(o, stdin)
	if err != nil {
		return fail(stderr, err)
	}
	out := &outputFile{path: o.outFile, w: stdout}
	opts := ebtrace.Options{
		Params: o.params, Getenv: os.Getenv, Compat: o.compat, Unsafe: o.unsafe, HelperErrors: o.helperErrs,
		PID: o.pid, Log: stderr, Output: out, Format: ebtrace.Format(o.format), Quiet: o.quiet, Mode: ebtrace.Mode(o.mode),
		Engine: ebtrace.Engine(o.engine),
	}
	if o.command != "" {
		if opts.Command, err = splitCommand(o.command); err != nil {
			return fail(stderr, err)
		}
	}
	script, err := ebtrace.Compile(name, src, opts)
	if err != nil {
		return fail(stderr, err)
	}
	for _, w := range script.Warnings() {
		fmt.Fprintln(stderr, w)
	}
	if slices.Contains(o.params, "--help") {
		writeOptions(stdout, script.NamedOptions())
		return 0
	}
	switch {
	case o.dump == "parse":
		err = script.Dump(stdout, "ast", o.btf)
	case o.dump != "":
		err = script.Dump(stdout, o.dump, o.btf)
	case o.dryRun:
		return dryRun(o, script, stderr)
	default:
		return trace(o, script, out, stderr)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// writeOptions answers `-- --help`: the named options the script reads
// with getopt().
func writeOptions(w io.Writer, opts []ebtrace.NamedOption) {
	if len(opts) == 0 {
		fmt.Fprintln(w, "This script reads no named options (getopt).")
		return
	}
	fmt.Fprintln(w, "OPTIONS (after --):")
	rows := make([][2]string, len(opts))
	width := 0
	for i, opt := range opts {
		rows[i][0] = "--" + opt.Name
		if opt.Value != "" {
			rows[i][0] += "=" + opt.Value
		}
		width = max(width, len(rows[i][0]))
		var about []string
		if opt.Doc != "" {
			about = append(about, opt.Doc)
		}
		if opt.Value == "" {
			about = append(about, "a flag: --"+opt.Name+", --"+opt.Name+"=true or --"+opt.Name+"=false")
		}
		if opt.Default != "" {
			about = append(about, "default "+opt.Default)
		}
		rows[i][1] = strings.Join(about, "; ")
	}
	for _, r := range rows {
		fmt.Fprintf(w, "    %-*s  %s\n", width, r[0], r[1])
	}
}

func readScript(o *options, stdin io.Reader) (name, src string, err error) {
	switch {
	case o.program != "":
		return "stdin", o.program, nil
	case o.file == "-":
		b, err := io.ReadAll(stdin)
		return "stdin", string(b), err
	}
	b, err := os.ReadFile(o.file)
	return o.file, string(b), err
}

// fail reports err and returns exit status 1: diagnostics with their
// source lines, environment errors as one sentence.
func fail(stderr io.Writer, err error) int {
	var compileErr *ebtrace.CompileError
	var permErr *ebtrace.PermissionError
	switch {
	case errors.As(err, &compileErr):
		fmt.Fprintln(stderr, compileErr.Error())
	case errors.As(err, &permErr):
		// Say what is missing: privileges, or for a privileged process
		// what refuses even it (lockdown, a security module).
		if permErr.Privileged {
			fmt.Fprintf(stderr, "ebtrace: %v\nebtrace: operation not permitted: %s\n", permErr.Err, permErr.Denied)
		} else {
			fmt.Fprintf(stderr, "ebtrace: %s: %v\n", permErr.Denied, permErr.Err)
		}
	default:
		fmt.Fprintf(stderr, "ebtrace: %v\n", err)
	}
	return 1
}

// dryRun compiles the script and passes its programs through the verifier,
// attaching nothing. Probes this kernel cannot run are compiled only.
func dryRun(o *options, script *ebtrace.Script, stderr io.Writer) int {
	v, err := script.Verify()
	if err != nil {
		return loadFailed(o, err, stderr)
	}
	for _, reason := range v.Unattachable {
		fmt.Fprintf(stderr, "ebtrace: verified, cannot attach here: %v\n", reason)
	}
	for _, reason := range v.Unloadable {
		fmt.Fprintf(stderr, "ebtrace: compiled, not loaded: %v\n", reason)
	}
	fmt.Fprintf(stderr, "Dry run: %s passed the verifier; nothing was attached\n", count(v.Verified, "program"))
	return 0
}

// loadFailed reports a load error, with -v the verifier's log after it.
func loadFailed(o *options, err error, stderr io.Writer) int {
	code := fail(stderr, err)
	var compileErr *ebtrace.CompileError
	if o.verbose && errors.As(err, &compileErr) && compileErr.VerifierLog != nil {
		printLogTail(stderr, compileErr.VerifierLog)
	}
	return code
}

// trace runs the script until it exits, the -c command or -p process
// ends, or SIGINT or SIGTERM arrives, and writes the stack files asked
// for.
func trace(o *options, script *ebtrace.Script, out *outputFile, stderr io.Writer) int {
	stackOuts := stackOutputs(o)
	if len(stackOuts) > 0 && len(script.StackMaps()) == 0 {
		return fail(stderr, fmt.Errorf("%s needs a map keyed by a stack and counting or summing, such as @[kstack] = count() or @[ustack, comm] = sum(arg0); this script has none", stackOuts[0].option))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sess, err := script.Start(ctx)
	if err != nil {
		return loadFailed(o, err, stderr)
	}
	err = sess.Wait()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(stderr, err)
	}
	if err := writeStackOutputs(stackOuts, sess, flameTitle(o)); err != nil {
		return fail(stderr, err)
	}
	// exit(CODE) sets the status as the OS keeps it, its low 8 bits:
	// exit(-1) is 255, as in bpftrace.
	return sess.ExitCode() & 0xff
}

func printLogTail(w io.Writer, log []string) {
	if len(log) > 30 {
		log = log[len(log)-30:]
	}
	fmt.Fprintln(w, "verifier log (last lines):")
	for _, l := range log {
		fmt.Fprintf(w, "    %s\n", l)
	}
}

// outputFile is where a script's output goes: the file -o names, or
// stdout. The file is created at the first write, or at Close when
// nothing was written, so that a script the verifier refuses leaves an
// earlier file in place.
type outputFile struct {
	path string
	w    io.Writer // stdout, or the file once created
	file *os.File
}

func (o *outputFile) Write(p []byte) (int, error) {
	if err := o.create(); err != nil {
		return 0, err
	}
	return o.w.Write(p)
}

func (o *outputFile) create() error {
	if o.path == "" || o.file != nil {
		return nil
	}
	f, err := os.Create(o.path)
	if err != nil {
		return err
	}
	o.file, o.w = f, f
	return nil
}

// Close creates the file if nothing was written to it, and closes it.
func (o *outputFile) Close() error {
	if err := o.create(); err != nil || o.file == nil {
		return err
	}
	return o.file.Close()
}

// count is n nouns: "1 program", "2 programs".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
