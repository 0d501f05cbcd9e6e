// Package tracetest runs a script inside a test process, as the probe
// providers' kernel tests do: compile it against a registry of the
// provider under test, load and attach it, run a command to its end, then
// finish the session and return what it printed.
package tracetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/tracer"
)

// Run traces script while cmd runs and returns the printed output and how
// long the probes were attached until cmd ended. It skips the test without
// root or when this kernel cannot run one of the probes (Available wraps
// ebpf.ErrNotSupported), and fails it on any other error or warning.
func Run(t testing.TB, reg *probe.Registry, env *probe.Env, script string, cmd *exec.Cmd) (string, time.Duration) {
	t.Helper()
	testutil.RequireRoot(t)
	res := Compile(t, reg, env, script, compile.Options{Plan: plan.DefaultOptions})
	for _, p := range res.Programs {
		testutil.SkipUnsupported(t, p.Instance.Instance.Available())
	}
	var attached time.Duration
	out, warn := Session(t, res, output.NewText, func(obj *load.Object, sess *tracer.Session) error {
		if err := obj.Attach(); err != nil {
			return err
		}
		start := time.Now()
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", cmd, err, msg)
		}
		err := sess.Loop(Closed())
		attached = time.Since(start) // Finish first stops every program
		return err
	})
	if warn != "" {
		t.Errorf("warnings: %s", warn)
	}
	return out, attached
}

// Session loads res and runs it in a session writing through writer:
// drive runs its programs (obj.Run, obj.Attach, sess.Loop, ...), then the
// session finishes (END runs, the maps print). It returns what the
// session printed and warned, and fails the test on any error.
func Session(t testing.TB, res *compile.Result, writer func(io.Writer) output.Writer, drive func(*load.Object, *tracer.Session) error) (out, warnings string) {
	t.Helper()
	obj := Load(t, res)
	defer obj.Close()
	var stdout, warn bytes.Buffer
	sess, err := tracer.New(tracer.Kernel(obj), writer(&stdout), &warn)
	if err != nil {
		t.Fatal(err)
	}
	if err := drive(obj, sess); err != nil {
		t.Fatal(err)
	}
	if err := sess.Finish(); err != nil {
		t.Fatal(err)
	}
	return stdout.String(), warn.String()
}

// RunBegin is a drive of Session: BEGIN once, then the events it sent.
func RunBegin(obj *load.Object, sess *tracer.Session) error {
	if err := obj.Run(probe.Begin); err != nil {
		return err
	}
	return sess.Loop(Closed())
}

// Closed returns a closed channel: Loop handles what is queued and
// returns.
func Closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// FakeEnv is the environment of tests that need no live tracefs: the
// embedded format files of kerneltest.Fake; unsafe is --unsafe.
func FakeEnv(unsafe bool) *probe.Env {
	return &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }, Unsafe: unsafe}
}

// Compile compiles script with the providers of reg in env, failing the
// test on any diagnostic or error.
func Compile(t testing.TB, reg *probe.Registry, env *probe.Env, script string, opts compile.Options) *compile.Result {
	t.Helper()
	res, err := compile.Compile(source.NewFile("test.bt", script), reg, env, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Load loads res into the kernel, failing the test with the verifier's
// log when the kernel refuses a program. The test closes the object.
func Load(t testing.TB, res *compile.Result) *load.Object {
	t.Helper()
	testutil.RequireRoot(t)
	obj, err := load.Load(res, load.Config{})
	if err != nil {
		var v *load.VerifierError
		if errors.As(err, &v) {
			t.Log(strings.Join(v.Log, "\n"))
		}
		t.Fatal(err)
	}
	return obj
}
