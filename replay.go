package ebtrace

import (
	"cmp"
	"errors"
	"io"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/ebt"
	"github.com/ebtrace/ebtrace/internal/replay"
	"github.com/ebtrace/ebtrace/internal/source"
)

// Replay is a script compiled to run over a recording (ebtrace record -o
// FILE.ebt) in ebtrace's user-space eBPF engine instead of the kernel: on
// this machine or any other, without bpf(2). Its tracepoint probes run on
// the recorded events of their tracepoint, BEGIN and END around them, and
// interval probes on the recording's clock; the output is what the live
// run would have printed on those events.
type Replay struct {
	res  *compile.Result
	rec  *ebt.Reader
	opts Options
}

// CompileReplay compiles the script src, named name in diagnostics,
// against the events of the recording in the file at path. A probe on an
// event the recording lacks is a *CompileError; so is a probe of a kind
// a replay cannot run (kprobes, uprobes, profile), with the recorded
// events named. opts.Output, where the replay writes, must be set;
// Command, PID and Mode do not apply.
func CompileReplay(name, src, path string, opts Options) (*Replay, error) {
	switch {
	case opts.Output == nil:
		return nil, errors.New("replay: Options.Output is not set")
	case len(opts.Command) > 0 || opts.PID != 0 || opts.Mode != ModeTrace:
		return nil, errors.New("replay: a recording has no process to run or follow, and no test or bench mode")
	}
	copts, err := opts.compileOptions()
	if err != nil {
		return nil, err
	}
	rec, err := ebt.Open(path)
	if err != nil {
		return nil, err
	}
	res, err := replay.Compile(source.NewFile(name, src), rec.Header(), copts)
	if err != nil {
		rec.Close()
		return nil, publicError(err)
	}
	return &Replay{res: res, rec: rec, opts: opts}, nil
}

// Run replays the whole recording once and closes it. It returns the exit
// code a probe's exit() asked for; a probe that calls exit() ends the
// replay there, as it ends tracing.
func (r *Replay) Run() (int, error) {
	defer r.Close()
	code, err := replay.Run(r.res, r.rec, r.opts.newWriter(r.opts.Output), cmp.Or(r.opts.Log, io.Discard))
	return code, publicError(err)
}

// Close releases the recording; Run does so itself.
func (r *Replay) Close() error { return r.rec.Close() }
