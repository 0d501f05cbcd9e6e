package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// tmuxShell is an `ebtrace shell` running on a detached tmux terminal.
type tmuxShell struct {
	t    *testing.T
	name string
}

func (ts *tmuxShell) tmux(args ...string) string {
	ts.t.Helper()
	out, err := exec.Command("tmux", args...).CombinedOutput()
	if err != nil {
		ts.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen returns the terminal's lines, without the empty ones.
func (ts *tmuxShell) screen() string {
	ts.t.Helper()
	var lines []string
	for _, l := range strings.Split(ts.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", ts.name), "\n") {
		if l = strings.TrimRight(l, " "); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// typeLine types line and Enter, then waits until the screen ends with a
// line matching want.
func (ts *tmuxShell) typeLine(line, want string) {
	ts.t.Helper()
	ts.tmux("send-keys", "-t", ts.name, "-l", line)
	ts.tmux("send-keys", "-t", ts.name, "Enter")
	ts.waitFor(want)
}

func (ts *tmuxShell) waitFor(want string) {
	ts.t.Helper()
	re := regexp.MustCompile("(?m)" + want)
	deadline := time.Now().Add(15 * time.Second)
	for !re.MatchString(ts.screen()) {
		if time.Now().After(deadline) {
			ts.t.Fatalf("waited for %q; the screen reads:\n%s", want, ts.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestShellOnTerminal(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (setup.sh installs it)")
	}
	bin := testutil.Build(t, "./cmd/ebtrace")
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "tmuxsh")
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.bt")
	ts := &tmuxShell{t: t, name: fmt.Sprintf("ebtrace-shell-%d", os.Getpid())}
	// Its own tmux server and home (for the history file): nothing of the
	// machine's is touched.
	t.Setenv("TMUX_TMPDIR", dir)
	t.Setenv("TMUX", "")
	ts.tmux("new-session", "-d", "-s", ts.name, "-x", "200", "-y", "50",
		fmt.Sprintf("HOME=%s %s shell; echo exit status $?; sleep 60", dir, bin))
	defer exec.Command("tmux", "kill-server").Run()
	ts.waitFor(`^ebtrace shell: type a probe block`)

	ts.typeLine(fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /comm == "%s"/ {`, comm), `^     \.\.\.$`)
	ts.typeLine(`@x["enter"] = count(); }`, `^attached #1: tracepoint:syscalls:sys_enter_getppid$`)
	ts.typeLine(fmt.Sprintf(`tracepoint:syscalls:sys_exit_getppid /comm == "%s"/ { @x["exit"] = count(); printf("ppid call %%d\n", @x["exit"]); }`, comm),
		`^attached #2: tracepoint:syscalls:sys_exit_getppid$`)
	if out, err := exec.Command(wl, "getppid", "3").CombinedOutput(); err != nil {
		t.Fatalf("workload: %v\n%s", err, out)
	}
	ts.waitFor(`^ppid call 3$`)
	ts.typeLine(".detach 1", `^detached #1$`)
	ts.typeLine(".print @x", `^@x\[exit\]: 3$`)
	ts.typeLine(".probes", `^#2  tracepoint:syscalls:sys_exit_getppid  \d+ hits  \d+ ns/event$`)
	ts.typeLine(".save "+saved, `^saved 1 probe block to `)
	ts.typeLine(".quit", `^exit status 0$`)

	screen := ts.screen()
	want := regexp.MustCompile(`(?s)attached #1: .*attached #2: .*
ppid call 1
ppid call 2
ppid call 3
ebtrace> \.detach 1
detached #1
ebtrace> \.print @x
@x\[enter\]: 3
@x\[exit\]: 3
ebtrace> \.probes
#2  tracepoint:syscalls:sys_exit_getppid  \d+ hits  \d+ ns/event
ebtrace> \.save .*saved\.bt
saved 1 probe block to .*saved\.bt
ebtrace> \.quit
@x\[enter\]: 3
@x\[exit\]: 3
exit status 0
$`)
	if !want.MatchString(screen) {
		t.Errorf("the screen reads:\n%s", screen)
	}
	history := loadHistory(filepath.Join(dir, ".ebtrace_history")).entries
	if want := fmt.Sprintf("tracepoint:syscalls:sys_enter_getppid /comm == \"%s\"/ {\n@x[\"enter\"] = count(); }", comm); len(history) == 0 || history[0] != want {
		t.Errorf("history: %q, want first %q", history, want)
	}

	cmd := exec.Command(bin, "-q", saved, "-c", wl+" getppid 3")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("ebtrace %s: %v", saved, err)
	}
	if want := "ppid call 1\nppid call 2\nppid call 3\n\n\n@x[exit]: 3\n"; string(got) != want {
		t.Errorf("ebtrace %s printed %q, want %q", saved, got, want)
	}
}
