package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestRefusedAsRoot makes the kernel refuse root something, and checks
// that ebtrace says what refused it instead of asking for root. A BPF
// trampoline is the refusal at hand under lockdown; where the kernel
// attaches it, root without CAP_BPF and CAP_SYS_ADMIN (dropped from the
// bounding set before exec) is refused the program load instead.
func TestRefusedAsRoot(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	r := runCLI(t, "-e", "fentry:vfs_read { exit(); }", "-c", "cat /proc/version")
	denied := kernel.CurrentAccess().Denied()
	switch {
	case r.code == 0:
		t.Log("fentry attaches here; dropping CAP_BPF and CAP_SYS_ADMIN instead")
	case strings.Contains(r.stderr, "needs root"):
		t.Errorf("as root, ebtrace asks for root:\n%s", r.stderr)
	case !strings.Contains(r.stderr, denied):
		t.Errorf("stderr:\n%s\nwant it to say: %s", r.stderr, denied)
	}

	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is missing")
	}
	// Asked for the kernel engine, it says what is missing; a script
	// of BEGIN, tracepoints and intervals falls back to the user-space
	// engine.
	drop := []string{"--bounding-set=-bpf,-sys_admin,-perfmon", "--inh-caps=-bpf,-sys_admin,-perfmon", bin}
	out, _ := exec.Command(setpriv, append(drop, "--engine=kernel", "-e", "BEGIN { exit(); }")...).CombinedOutput()
	if want := "ebtrace: ebtrace runs as root without CAP_BPF, CAP_PERFMON (a container or capsh dropped them): "; !strings.HasPrefix(string(out), want) {
		t.Errorf("root without CAP_BPF: output\n%s\nwant it to start with %q", out, want)
	}
	out, err = exec.Command(setpriv, append(drop, "-e", `BEGIN { printf("ran\n"); exit(); }`)...).CombinedOutput()
	if want := "ebtrace: bpf(2) is refused here (operation not permitted): the script runs in ebtrace's user-space engine"; err != nil || !strings.HasPrefix(string(out), want) || !strings.Contains(string(out), "ran\n") {
		t.Errorf("root without CAP_BPF, a BEGIN script: %v, output\n%s\nwant it to run in the user-space engine", err, out)
	}
}
