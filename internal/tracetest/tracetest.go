// Package tracetest runs a script inside a test process, as the probe
// providers' kernel tests do: compile it against a registry of the
// provider under test, load and attach it, run a command to its end, then
// finish the session and return what it printed.
package tracetest

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ebtrace/compile"
	"ebtrace/internal/kerneltest"
	"ebtrace/internal/testutil"
	"ebtrace/kernel"
	"ebtrace/load"
	"ebtrace/output"
	"ebtrace/plan"
	"ebtrace/probe"
	"ebtrace/runtime"
	"ebtrace/source"
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
	obj := Load(t, res)
	defer obj.Close()
	var out, warn bytes.Buffer
	sess, err := runtime.New(obj, output.NewText(&out), &warn)
	if err != nil {
		t.Fatal(err)
	}
	if err := obj.Attach(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, msg)
	}
	stop := make(chan struct{})
	close(stop)
	if err := sess.Loop(stop); err != nil {
		t.Fatal(err)
	}
	attached := time.Since(start) // Finish first stops every program
	if err := sess.Finish(); err != nil {
		t.Fatal(err)
	}
	if warn.Len() > 0 {
		t.Errorf("warnings: %s", warn.String())
	}
	return out.String(), attached
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
