package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// Where bpf(2) is refused (here by a seccomp filter, as a container's
// profile refuses it), ebtrace says so and runs the script in its
// user-space engine on tracefs's events: the same output as the kernel's.
func TestUserEngineWithoutBPF(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	nobpf := testutil.Build(t, "./internal/cmd/nobpf")
	bin := testutil.Build(t, "./cmd/ebtrace")
	wl := testutil.Workload(t)
	script := `BEGIN { printf("begin\n"); }
tracepoint:syscalls:sys_enter_write /pid == cpid/ { @c[comm, args.count % 3] = count(); @h = hist(args.count); @s = stats(args.count); }
tracepoint:syscalls:sys_exit_write /pid == cpid && args.ret > 50/ { @big = count(); }
END { printf("end\n"); }`
	want := runCLI(t, "-e", script, "-c", wl+" write 1 100")
	if want.code != 0 || !strings.Contains(want.stdout, "@big: 50") {
		t.Fatalf("the kernel's run: exit %d, stdout:\n%s\nstderr:\n%s", want.code, want.stdout, want.stderr)
	}
	for _, args := range [][]string{
		{nobpf, bin, "-e", script, "-c", wl + " write 1 100"},
		{bin, "--engine=user", "-e", script, "-c", wl + " write 1 100"},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v; stderr:\n%s", args, err, stderr.String())
		}
		if stdout.String() != want.stdout {
			t.Errorf("%v printed:\n%s\nand said:\n%s\nthe kernel's run:\n%s", args, stdout.String(), stderr.String(), want.stdout)
		}
		wantErr := "Attached 4 probes\n"
		if args[0] == nobpf {
			wantErr = "ebtrace: bpf(2) is refused here (operation not permitted): the script runs in ebtrace's user-space engine, on trace events read through tracefs\n" + wantErr
		}
		if stderr.String() != wantErr {
			t.Errorf("%v said:\n%s\nwant:\n%s", args, stderr.String(), wantErr)
		}
	}

	// The kernel engine asked for where bpf(2) is refused says why;
	// the user-space engine refuses what needs the kernel.
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--engine=kernel", "-e", `BEGIN { exit(); }`}, "operation not permitted"},
		{[]string{"-e", `profile:hz:99 { @ = count(); }`}, "ebtrace: bpf(2) is refused here (operation not permitted), and profile:hz:99 needs the kernel's BPF: ebtrace's user-space engine runs tracepoint, BEGIN, END and interval probes\n"},
	} {
		out, err := exec.Command(nobpf, append([]string{bin}, c.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.stderr) {
			t.Errorf("%v: %v, output:\n%s\nwant it to fail saying %q", c.args, err, out, c.stderr)
		}
	}
}
