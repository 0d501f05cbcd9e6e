// Command ebtrace compiles bpftrace-language scripts to eBPF, attaches them
// and prints what they collect. This package is only the command line:
// flags, exit codes and the wiring of the pipeline's stages.
package main

import (
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace"
	"github.com/ebtrace/ebtrace/internal/cdecl"
	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/corerelo"
	"github.com/ebtrace/ebtrace/internal/funcs"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/tracer"
)

const version = "ebtrace v0.1.0"

func main() {
	if os.Getenv(childEnv) != "" {
		runChild()
	}
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
	o, err := parseArgs(args)
	if err != nil {
		return badUsage(stderr, "ebtrace", err)
	}
	switch {
	case o.help:
		io.WriteString(stdout, usage)
		return 0
	case o.version:
		fmt.Fprintln(stdout, version)
		return 0
	case o.info:
		if err := kernel.WriteInfo(stdout); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	env := newEnv(stderr, o.pid)
	env.Unsafe = o.unsafe
	reg := all.Registry()
	if o.list {
		if cdecl.IsTypePattern(o.pattern) {
			return listTypes(env, o, stdout, stderr)
		}
		if err := reg.List(env, o.pattern, o.verbose, stdout); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	file, err := readScript(o, stdin)
	if err != nil {
		return fail(stderr, err)
	}
	planOpts := plan.DefaultOptions
	planOpts.HelperErrors = o.helperErrs
	res, err := compile.Compile(file, reg, env, compile.Options{
		Plan:           planOpts,
		Check:          check.Options{Params: o.params, Getenv: os.Getenv, NoBool: o.compat == "0.17"},
		TaskCommOffset: kernel.TaskCommOffset,
		KernelFuncID:   kernel.KernelFuncID,
		PIDNamespace:   kernel.PIDNamespace,
	})
	if err != nil {
		return fail(stderr, err)
	}
	for _, d := range append(res.Info.Skipped, res.Info.Warnings...) {
		source.RenderOne(stderr, res.File, d)
	}
	opts := funcs.Options(res.Info.Program)
	if slices.Contains(o.params, "--help") {
		writeOptions(stdout, opts)
		return 0
	}
	if err := unknownOptions(o.params, opts); err != nil {
		return fail(stderr, err)
	}
	if o.dump != "" {
		if err := dump(o.dump, o.btf, res, stdout); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	return trace(o, res, stdout, stderr)
}

// writeOptions answers `-- --help`: the named options the script reads
// with getopt().
func writeOptions(w io.Writer, opts []funcs.Option) {
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

// unknownOptions refuses a named option (--name or --name=value) that a
// script reading named options does not read: most likely a misspelling.
// A script without getopt() takes such words as positional parameters.
func unknownOptions(params []string, opts []funcs.Option) error {
	if len(opts) == 0 {
		return nil
	}
	var names []string
	for _, opt := range opts {
		names = append(names, opt.Name)
	}
	for _, p := range params {
		name, ok := strings.CutPrefix(p, "--")
		if !ok || name == "" {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if !slices.Contains(names, name) {
			msg := fmt.Sprintf("the script has no option --%s; it reads --%s", name, strings.Join(names, ", --"))
			if close := source.Closest(name, names, 2); len(close) > 0 {
				msg += fmt.Sprintf(" (did you mean --%s?)", close[0])
			}
			return errors.New(msg + "; -- --help lists them")
		}
	}
	return nil
}

// listTypes answers -l 'struct NAME' (and union, enum) from kernel BTF.
func listTypes(env *probe.Env, o *options, stdout, stderr io.Writer) int {
	spec, err := env.Types()
	if err != nil {
		return fail(stderr, fmt.Errorf("-l %s needs the kernel's BTF: %w", o.pattern, err))
	}
	if err := cdecl.ListTypes(stdout, spec, o.pattern, o.verbose); err != nil {
		return fail(stderr, err)
	}
	return 0
}

// newEnv gives providers lazy access to tracefs, mounting it when needed.
func newEnv(stderr io.Writer, pid int) *probe.Env {
	return &probe.Env{PID: pid, Events: sync.OnceValues(func() (*kernel.Events, error) {
		events, mounted, err := kernel.Live()
		if mounted {
			fmt.Fprintln(stderr, "ebtrace: tracefs was not mounted; mounted it at /sys/kernel/tracing")
		}
		return events, err
	})}
}

func readScript(o *options, stdin io.Reader) (*source.File, error) {
	switch {
	case o.program != "":
		return source.NewFile("stdin", o.program), nil
	case o.file == "-":
		b, err := io.ReadAll(stdin)
		return source.NewFile("stdin", string(b)), err
	}
	b, err := os.ReadFile(o.file)
	if err != nil {
		return nil, err
	}
	return source.NewFile(o.file, string(b)), nil
}

// fail reports err and returns exit status 1: diagnostics with their
// source lines, environment errors as one sentence.
func fail(stderr io.Writer, err error) int {
	var diags *source.Diagnostics
	var verr *load.VerifierError
	var unavailable *probe.Unavailable
	var compileErr *ebtrace.CompileError
	var permErr *ebtrace.PermissionError
	switch {
	case errors.As(err, &compileErr):
		fmt.Fprintln(stderr, compileErr.Error())
	case errors.As(err, &permErr):
		if permErr.Privileged {
			fmt.Fprintf(stderr, "ebtrace: %v\nebtrace: operation not permitted: %s\n", permErr.Err, permErr.Denied)
		} else {
			fmt.Fprintf(stderr, "ebtrace: %s: %v\n", permErr.Denied, permErr.Err)
		}
	case errors.As(err, &verr):
		verr.Diag.Render(stderr)
	case errors.As(err, &diags):
		diags.Render(stderr)
	case errors.As(err, &unavailable):
		// Already the one sentence that says why, even when its cause is
		// an EPERM (fentry under lockdown).
		fmt.Fprintf(stderr, "ebtrace: %v\n", err)
	case errors.Is(err, load.ErrPrivileges), errors.Is(err, fs.ErrPermission):
		// Say what is missing: privileges, or for a privileged process
		// what refuses even it (lockdown, a security module).
		access := kernel.CurrentAccess()
		if access.Privileged() {
			fmt.Fprintf(stderr, "ebtrace: %v\nebtrace: operation not permitted: %s\n", err, access.Denied())
		} else {
			fmt.Fprintf(stderr, "ebtrace: %s: %v\n", access.Denied(), err)
		}
	default:
		fmt.Fprintf(stderr, "ebtrace: %v\n", err)
	}
	return 1
}

// dump prints a compiler stage; -d core resolves relocations against the
// BTF in the file btfFile (an ELF vmlinux or raw BTF) when it is set.
func dump(stage, btfFile string, res *compile.Result, w io.Writer) error {
	switch stage {
	case "ast", "parse":
		fmt.Fprint(w, syntax.Dump(res.AST))
	case "check":
		for _, in := range res.Info.Instances {
			fmt.Fprintf(w, "%s\n", in.Instance.Name())
			for _, name := range slices.Sorted(maps.Keys(in.Vars)) {
				fmt.Fprintf(w, "    $%s: %s\n", name, in.Vars[name])
			}
		}
		for _, name := range res.Info.MapNames() {
			m := res.Info.Maps[name]
			fmt.Fprintf(w, "@%s: %s keys %v value %s\n", name, m.Kind, m.Keys, m.Value)
		}
	case "plan":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res.Plan)
	case "asm":
		for _, p := range res.Programs {
			fmt.Fprintf(w, "%s: %s (%s)\n%v\n", p.Name, p.Instance.Instance.Name(), p.Instance.Instance.Program().Type, annotate(p.Insns))
		}
	case "core":
		var target *btf.Spec
		if btfFile != "" {
			spec, err := kernel.LoadBTF(btfFile)
			if err != nil {
				return fmt.Errorf("--btf: %w", err)
			}
			target = spec
		}
		relocated, err := load.Relocations(res, target)
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, p := range res.Programs {
			names[p.Name] = p.Instance.Instance.Name()
		}
		for _, r := range relocated {
			fmt.Fprintf(w, "%s: %s\n", r.Program, names[r.Program])
			for _, a := range r.Applied {
				fmt.Fprintf(w, "    insn %d: %v = %d (compiled %d)\n", a.Offset, a.Reloc, a.Value, a.Compiled)
			}
		}
	}
	return nil
}

// relocatedSource shows an instruction's CO-RE relocation in -d asm.
type relocatedSource struct {
	src   fmt.Stringer
	reloc *corerelo.Relocation
}

func (s relocatedSource) String() string { return fmt.Sprintf("%v  [CO-RE: %v]", s.src, s.reloc) }

// annotate marks the instructions that load relocates.
func annotate(insns asm.Instructions) asm.Instructions {
	out := make(asm.Instructions, len(insns))
	for i, ins := range insns {
		if r := corerelo.Of(&ins); r != nil {
			ins = ins.WithSource(relocatedSource{ins.Source(), r})
		}
		out[i] = ins
	}
	return out
}

// dryRun compiles the script and passes its programs through the verifier,
// attaching nothing. Probes this kernel cannot run are compiled only.
func dryRun(o *options, res *compile.Result, stderr io.Writer) int {
	dry, err := load.Verify(res)
	if err != nil {
		return loadFailed(o, err, stderr)
	}
	for _, reason := range dry.Unattachable {
		fmt.Fprintf(stderr, "ebtrace: verified, cannot attach here: %v\n", reason)
	}
	for _, reason := range dry.Unloadable {
		fmt.Fprintf(stderr, "ebtrace: compiled, not loaded: %v\n", reason)
	}
	fmt.Fprintf(stderr, "Dry run: %s passed the verifier; nothing was attached\n", source.Count(dry.Verified, "program"))
	return 0
}

// loadFailed reports a load error, with -v the verifier's log after it.
func loadFailed(o *options, err error, stderr io.Writer) int {
	code := fail(stderr, err)
	var verr *load.VerifierError
	if o.verbose && errors.As(err, &verr) {
		printLogTail(stderr, verr.Log)
	}
	return code
}

// trace loads, attaches and runs the script until it exits, the -c command
// or -p process ends, or a signal arrives.
func trace(o *options, res *compile.Result, stdout, stderr io.Writer) int {
	if o.dryRun {
		return dryRun(o, res, stderr)
	}
	if kind, ok := modeKinds[o.mode]; ok && !slices.ContainsFunc(res.Programs, func(p *compile.Program) bool { return p.Instance.Instance.Kind() == kind }) {
		return fail(stderr, fmt.Errorf("--mode %s: the script has no %s probe (%s:NAME { ... })", o.mode, o.mode, o.mode))
	}
	stackOuts := stackOutputs(o, flameTitle(o))
	if err := checkStackOutputs(stackOuts, res); err != nil {
		return fail(stderr, err)
	}
	var child *child
	var err error
	if o.command != "" {
		if child, err = startChild(o.command); err != nil {
			return fail(stderr, err)
		}
		defer child.kill()
	}
	cfg := load.Config{StartNs: kernel.MonotonicNow(), TAIOffset: kernel.TAIOffset()}
	if child != nil {
		cfg.Cpid = uint32(child.cmd.Process.Pid)
	}
	obj, err := load.Load(res, cfg)
	if err != nil {
		return loadFailed(o, err, stderr)
	}
	defer obj.Close()

	out, closeOut, err := openOutput(o.outFile, stdout)
	if err != nil {
		return fail(stderr, err)
	}
	defer closeOut()
	w := newWriter(o, out)
	sess, err := tracer.New(obj, w, stderr)
	if err != nil {
		return fail(stderr, err)
	}

	stop, stopOnce, unwatch := stopOnSignals()
	defer unwatch()

	// BEGIN runs before any event probe can fire, as bpftrace promises:
	// what it sets up (capable.bt's names of capabilities, a header) is
	// there for the first event.
	if err := obj.Run(probe.Begin); err != nil {
		return fail(stderr, err)
	}
	// BEGIN and END count as probes, as in bpftrace; test and bench
	// probes run only in their modes, in place of the event probes.
	n := len(res.Programs) - len(obj.Programs(probe.Test)) - len(obj.Programs(probe.Bench))
	if o.mode == "" {
		if err := obj.Attach(); err != nil {
			return fail(stderr, err)
		}
	} else {
		n = len(obj.Programs(probe.Begin)) + len(obj.Programs(probe.End)) + len(obj.Programs(modeKinds[o.mode]))
	}
	switch {
	case o.quiet: // -q: neither the line nor JSON's attached_probes
	case o.format == "text":
		fmt.Fprintf(stderr, "Attached %s\n", source.Count(n, "probe"))
	default:
		w.Attached(n)
	}
	code, err := 0, error(nil)
	switch o.mode {
	case "test":
		var failed int
		failed, err = sess.Test(func(w io.Writer) output.Writer { return newWriter(o, w) })
		if failed > 0 {
			code = 1
		}
	case "bench":
		err = sess.Bench(benchTime)
	default:
		err = traceUntilDone(o, sess, child, stop, stopOnce)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if err := sess.Finish(); err != nil {
		return fail(stderr, err)
	}
	if err := writeStackOutputs(stackOuts, sess); err != nil {
		return fail(stderr, err)
	}
	// exit(CODE) sets the status as the OS keeps it, its low 8 bits:
	// exit(-1) is 255, as in bpftrace.
	return max(code, sess.ExitCode()&0xff)
}

// modeKinds are the probes --mode runs.
var modeKinds = map[string]probe.Kind{"test": probe.Test, "bench": probe.Bench}

// benchTime is how long --bench runs each bench probe.
const benchTime = 200 * time.Millisecond

// newWriter returns the writer of the output format (-f) and layout
// (--compat) on w.
func newWriter(o *options, w io.Writer) output.Writer {
	switch {
	case o.format == "json":
		return output.NewJSON(w)
	case o.compat == "0.17":
		return output.NewLegacyText(w)
	}
	return output.NewText(w)
}

// traceUntilDone handles events until tracing ends: at exit(), the end of
// the -c command or -p process, or a signal.
func traceUntilDone(o *options, sess *tracer.Session, child *child, stop chan struct{}, stopOnce func()) error {
	if err := stopWhenGone(child, o.pid, stopOnce); err != nil {
		return err
	}
	if child != nil {
		go func() {
			// Before its exec the child maps ebtrace, not the command.
			<-child.execed
			sess.Follow(child.cmd.Process.Pid, child.done)
		}()
	}
	if o.pid > 0 {
		go sess.Follow(o.pid, stop)
	}
	return sess.Loop(stop)
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

// openOutput returns where output goes: the file -o names, created now,
// or stdout; and what closes it.
func openOutput(path string, stdout io.Writer) (io.Writer, func(), error) {
	if path == "" {
		return stdout, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// stopOnSignals returns a channel closed at the first SIGINT or SIGTERM or
// call of stopNow, and a function that stops watching the signals.
func stopOnSignals() (stop chan struct{}, stopNow func(), unwatch func()) {
	stop = make(chan struct{})
	var once sync.Once
	stopNow = func() { once.Do(func() { close(stop) }) }
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		stopNow()
	}()
	return stop, stopNow, func() { signal.Stop(signals) }
}

// stopWhenGone releases the -c command c, when there is one, and calls
// stop once it exits, or once process pid (-p) does.
func stopWhenGone(c *child, pid int, stop func()) error {
	if c != nil {
		if err := c.release(); err != nil {
			return err
		}
		go func() {
			<-c.done
			stop()
		}()
	}
	if pid > 0 {
		return watchPid(pid, stop)
	}
	return nil
}

// watchPid calls stop when process pid exits.
func watchPid(pid int, stop func()) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("-p %d: %w", pid, err)
	}
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		stop()
	}()
	return nil
}
