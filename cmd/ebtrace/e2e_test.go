package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// These tests run the real binary against the live kernel with the
// workload in internal/cmd/workload, and assert exact output.

type result struct {
	stdout, stderr string
	code           int
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	return ebtraceEnv(t, nil, args...)
}

// ebtraceEnv runs ebtrace with env (KEY=value) added to the environment.
func ebtraceEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func (r result) want(t *testing.T, code int, stdout string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d; stderr:\n%s", r.code, code, r.stderr)
	}
	if r.stdout != stdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, stdout)
	}
}

func TestCountGetppid(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls = count(); }`, "-c", wl+" getppid 1000")
	r.want(t, 0, "\n\n@calls: 1000\n")
	if r.stderr != "Attached 1 probe\n" {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestOpenatFilenames(t *testing.T) {
	wl := testutil.Workload(t)
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"alpha", "beta", "gamma"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	comm := filepath.Base(wl)
	if len(comm) > 15 {
		comm = comm[:15]
	}
	prog := `tracepoint:syscalls:sys_enter_openat /comm == "` + comm + `"/ { printf("%s %s\n", comm, str(args.filename)); }`
	r := runCLI(t, "-e", prog, "-c", wl+" open "+strings.Join(files, " "))
	var got []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, dir) {
			got = append(got, line)
		}
	}
	want := []string{comm + " " + files[0], comm + " " + files[1], comm + " " + files[2]}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || r.code != 0 {
		t.Errorf("exit %d, lines naming the test files:\n%s\nwant:\n%s\nstderr: %s", r.code, strings.Join(got, "\n"), strings.Join(want, "\n"), r.stderr)
	}
}

// The expected histograms are what bpftrace v0.17 prints for the same
// workload.
func TestWriteHistograms(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_write /pid == cpid/ { @sizes = hist(args.count); @l = lhist(args->count, 0, 1024, 128); }`,
		"-c", wl+" write 1 1024")
	r.want(t, 0, `

@l:
[0, 128)             127 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@ |
[128, 256)           128 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[256, 384)           128 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[384, 512)           128 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[512, 640)           128 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[640, 768)           128 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[768, 896)           128 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[896, 1K)            128 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[1K, ...)              1 |                                                    |

@sizes:
[1]                    1 |                                                    |
[2, 4)                 2 |                                                    |
[4, 8)                 4 |                                                    |
[8, 16)                8 |                                                    |
[16, 32)              16 |@                                                   |
[32, 64)              32 |@@@                                                 |
[64, 128)             64 |@@@@@@                                              |
[128, 256)           128 |@@@@@@@@@@@@@                                       |
[256, 512)           256 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[512, 1K)            512 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[1K, 2K)               1 |                                                    |

`)
}

func TestAggregations(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_write /pid == cpid/ {
	@n = count(); @s = sum(args.count); @mn = min(args.count); @mx = max(args.count);
	@a = avg(args.count); @st = stats(args.count); @k[args.count % 3] = count();
	@last = args.count; @p = probe; @i++; @j += 2; @cnt[comm == "nope" ? "no" : "yes"] = count();
	if (args.count == 7) { delete(@k[1]); }
}`, "-c", wl+" write 1 10")
	r.want(t, 0, `

@a: 5

@cnt[yes]: 10
@i: 10
@j: 20
@k[1]: 1
@k[0]: 3
@k[2]: 3
@last: 10
@mn: 1
@mx: 10
@n: 10
@p: tracepoint:syscalls:sys_enter_write
@s: 55
@st: { .count = 10, .average = 5, .total = 55 }

`)
}

// openatFields reads the running kernel's format file of
// syscalls:sys_enter_openat with a regexp of its own, for tests that print
// the fields: which there are and how they are declared differ between
// kernel builds. It returns each declaration and each name, common_*
// fields left out.
func openatFields(t *testing.T) (decls, names []string) {
	t.Helper()
	testutil.RequireTracefs(t)
	text, err := os.ReadFile("/sys/kernel/tracing/events/syscalls/sys_enter_openat/format")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`field:([^;]*[ *])(\w+)(\[\d*\])?;`).FindAllStringSubmatch(string(text), -1) {
		if !strings.HasPrefix(m[2], "common_") {
			decls = append(decls, strings.TrimSpace(m[1]+m[2]+m[3]))
			names = append(names, m[2])
		}
	}
	if len(names) == 0 {
		t.Fatalf("no fields in the format file:\n%s", text)
	}
	return decls, names
}

func TestListVerbose(t *testing.T) {
	decls, _ := openatFields(t)
	r := runCLI(t, "-lv", "tracepoint:syscalls:sys_enter_openat")
	r.want(t, 0, "tracepoint:syscalls:sys_enter_openat\n    "+strings.Join(decls, "\n    ")+"\n")
	r = runCLI(t, "-l", "t:sched:sched_process_ex*")
	r.want(t, 0, "tracepoint:sched:sched_process_exec\ntracepoint:sched:sched_process_exit\n")
}

func TestDiagnostics(t *testing.T) {
	_, fields := openatFields(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_openat { printf("%s\n", str(args.filenam)); }`)
	r.want(t, 1, "")
	want := `stdin:1:64: error: tracepoint:syscalls:sys_enter_openat has no field "filenam"
    tracepoint:syscalls:sys_enter_openat { printf("%s\n", str(args.filenam)); }
                                                                   ^~~~~~~
hint: did you mean filename?
hint: fields: ` + strings.Join(fields, ", ") + "\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	r = runCLI(t, "-e", "BEGIN { @x = 1 +; }")
	r.want(t, 1, "")
	if !strings.HasPrefix(r.stderr, "stdin:1:17: error: ") || !strings.Contains(r.stderr, "\n    BEGIN { @x = 1 +; }\n                    ^\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	r = runCLI(t, "-e", `BEGIN { printf("%d\n", (1 + 2) }`)
	r.want(t, 1, "")
	if want := "stdin:1:32: error: expected ')' or ',' in the arguments of printf(), found '}'\n" +
		"    BEGIN { printf(\"%d\\n\", (1 + 2) }\n" +
		"                                   ^\n" +
		"hint: the '(' at 1:15 is not closed\n"; r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	r = runCLI(t, "-e", "tracepoint:syscalls:sys_enter_opnat { }")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "did you mean tracepoint:syscalls:sys_enter_openat") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestJSON(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-f", "json", "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @c = count(); @h = hist(2); @[comm] = sum(1); printf("n=%d\n", 7); }`,
		"-c", wl+" getppid 2")
	r.want(t, 0, `{"type": "attached_probes", "data": {"probes": 1}}
{"type": "printf", "data": "n=7\n"}
{"type": "printf", "data": "n=7\n"}
{"type": "map", "data": {"@": {"`+commOf(wl)+`": 2}}}
{"type": "map", "data": {"@c": 2}}
{"type": "hist", "data": {"@h": [{"min": 2, "max": 3, "count": 2}]}}
`)
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var v struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil || v.Type == "" || v.Data == nil {
			t.Errorf("line %q: %v", line, err)
		}
	}
	// -q silences attached_probes too, as bpftrace's -q does.
	r = runCLI(t, "-q", "-f", "json", "-e", `BEGIN { printf("hi\n"); exit(); }`)
	r.want(t, 0, `{"type": "printf", "data": "hi\n"}
`)
}

func commOf(path string) string {
	c := filepath.Base(path)
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

func TestBeginExit(t *testing.T) {
	r := runCLI(t, "-e", `BEGIN { printf("hi\n"); exit(); }`)
	r.want(t, 0, "hi\n\n\n")
}

// TestIntegerLiterals runs every form of integer literal through a BEGIN
// probe: scientific, separated, octal, suffixed, and durations in
// nanoseconds; a malformed one is a diagnostic at the literal.
func TestIntegerLiterals(t *testing.T) {
	r := runCLI(t, "-q", "-e", `BEGIN {
		printf("%d %ld %d %d\n", 1e6, 5e9, 2.5e3, 1_000);
		printf("%x %d %d %d\n", 0xffff_ffff, 0755, 1ull, 42L);
		printf("%d %d %d %ld %ld\n", 1ns, 100us, 10ms, 5s, 1m);
		$day = 1d; printf("%d\n", $day / 1h);
		exit();
	}`)
	r.want(t, 0, "1000000 5000000000 2500 1000\nffffffff 493 1 42\n1 100000 10000000 5000000000 60000000000\n24\n\n\n")
	r = runCLI(t, "-e", "BEGIN { @x = 1__000; }")
	r.want(t, 1, "")
	if want := "stdin:1:15: error: misplaced '_' in integer literal 1__000\n" +
		"    BEGIN { @x = 1__000; }\n" +
		"                  ^~\n" +
		"hint: '_' goes between two digits: 1_000_000, 0xffff_ffff\n"; r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
}

// A million printf events from a tight getppid loop all arrive.
func TestPrintfNoneLost(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%d\n", 1); }`, "-c", wl+" getppid 1000000")
	if r.code != 0 || strings.Contains(r.stdout, "Lost") {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout, "1\n"); n != 1000000 {
		t.Errorf("got %d printf lines, want 1000000", n)
	}
}

// SIGINT ends tracing and prints the maps; SIGKILL leaves nothing behind.
func TestSignals(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	cmd := exec.Command(bin, "-e", `interval:ms:10 { @ticks = count(); } END { printf("end\n"); }`)
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr := &testutil.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Attached") })
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if !strings.HasPrefix(out.String(), "end\n\n\n@ticks: ") {
		t.Errorf("stdout %q", out.String())
	}

	cmd = exec.Command(bin, "-e", `tracepoint:syscalls:sys_enter_getppid { @[pid] = count(); } interval:ms:10 { @t = count(); }`)
	stderr = &testutil.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Attached") })
	progs, links := testutil.BPFObjects(t, cmd.Process.Pid)
	// Two probes, and the program that flushes count slots where the
	// kernel has them.
	wantProgs := 2
	if load.CountSlots() == nil {
		wantProgs++
	}
	if len(progs) != wantProgs || len(links) != 2 {
		t.Errorf("ebtrace holds programs %v and links %v, want %d and 2", progs, links, wantProgs)
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitReleased(t, progs, links)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	waitWithin(t, 10*time.Second, cond)
}

func waitWithin(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFlags(t *testing.T) {
	r := runCLI(t, "--dry-run", "-e", `tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }`)
	r.want(t, 0, "")
	if r.stderr != "Dry run: 1 program passed the verifier; nothing was attached\n" {
		t.Errorf("stderr %q", r.stderr)
	}
	r = runCLI(t, "-d", "ast", "-e", `BEGIN { @x[1, "a"] = count(); }`)
	r.want(t, 0, "(probe (attach \"BEGIN\") (block (= (map x 1 \"a\") (call count))))\n")

	out := filepath.Join(t.TempDir(), "out.txt")
	r = runCLI(t, "-q", "-o", out, "-e", `BEGIN { printf("to file\n"); exit(); }`)
	r.want(t, 0, "")
	if b, _ := os.ReadFile(out); string(b) != "to file\n\n\n" || r.stderr != "" {
		t.Errorf("file %q, stderr %q", b, r.stderr)
	}

	r = runCLI(t, "-V")
	r.want(t, 0, "ebtrace v0.1.0\n")
	r = runCLI(t, "-x")
	r.want(t, 1, "")
	if !strings.HasPrefix(r.stderr, "ebtrace: unknown option -x\n") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestMapKeysMax(t *testing.T) {
	testutil.RequireRoot(t)
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "-e", `BEGIN { @m[1] = 1; @m[2] = 2; @m[3] = 3; exit(); }`)
	cmd.Env = append(os.Environ(), "BPFTRACE_MAP_KEYS_MAX=2")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "WARNING: map @m was full (2 entries): 1 updates were dropped") {
		t.Errorf("%v: %s", err, out)
	}
}

// -p PID ends tracing when that process exits.
func TestPid(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	// The target waits at its gate until ebtrace has attached, then makes
	// three getppid calls and exits; ebtrace exits with it.
	target := testutil.StartGated(t, testutil.Workload(t), "wait", "getppid", "3")
	pid := fmt.Sprint(target.Pid())
	cmd := exec.Command(bin, "-p", pid, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == `+pid+`/ { @n = count(); }`)
	stdout, stderr := &testutil.Buffer{}, &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Attached") })
	target.Release(t)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("ebtrace: %v; stderr:\n%s", err, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("ebtrace -p %s still runs 10 s after its target exited; stderr:\n%s", pid, stderr)
	}
	if got, want := stdout.String(), "\n\n@n: 3\n"; got != want {
		t.Errorf("stdout %q, want %q; stderr:\n%s", got, want, stderr)
	}
}

// Without privileges ebtrace says what it needs in one sentence.
func TestUnprivileged(t *testing.T) {
	testutil.RequireRoot(t)
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "-e", `BEGIN { exit(); }`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "ebtrace: needs root, or the CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH capabilities, to trace the kernel (running as uid 65534") ||
		strings.Count(string(out), "\n") != 1 {
		t.Errorf("output %q", out)
	}
}

// When tracefs is not mounted, ebtrace mounts it and says so. The test
// unmounts it in a private mount namespace so nothing else notices.
func TestMountsTracefs(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1) from util-linux to make a private mount namespace")
	}
	bin := testutil.Build(t, "./cmd/ebtrace")
	script := `umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null;
test -d /sys/kernel/tracing/events && { echo "still mounted"; exit 3; }
exec "$0" -q -l 'tracepoint:syscalls:sys_enter_getppid'`
	out, err := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c", script, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := "ebtrace: tracefs was not mounted; mounted it at /sys/kernel/tracing\ntracepoint:syscalls:sys_enter_getppid\n"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// printf output reaches the reader while tracing goes on, not at exit.
func TestPrintfIsPrompt(t *testing.T) {
	// A name of its own, which other packages' concurrent runs of the
	// workload do not share.
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "prompt")
	testutil.RequireRoot(t)
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "-e", `tracepoint:syscalls:sys_enter_getppid /comm == "`+comm+`"/ { printf("seen %d\n", 42); }`)
	stdout, stderr := &testutil.Buffer{}, &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Attached") })
	if err := exec.Command(wl, "getppid", "1").Run(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stdout.String() == "seen 42\n" })
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
}

func TestInfo(t *testing.T) {
	r := runCLI(t, "--info")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"\nProgram types\n", "  ring buffer:", "  tracepoint:                  yes\n", "  uprobe, uretprobe, usdt:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--info has no %q:\n%s", want, r.stdout)
		}
	}
}

// TestBeginBeforeEvents: BEGIN runs before any event probe can fire, so
// what it sets is there for the first event, even one ebtrace's own
// attaching causes (bpf(2) calls after sys_enter_bpf is attached).
func TestBeginBeforeEvents(t *testing.T) {
	r := runCLI(t, "-e", `BEGIN { @ready = 1; }
tracepoint:syscalls:sys_enter_bpf { @seen[@ready] = count(); }
interval:ms:100 { exit(); }`)
	if r.code != 0 || strings.Contains(r.stdout, "@seen[0]") || !strings.Contains(r.stdout, "@ready: 1\n") {
		t.Errorf("exit %d; an event before BEGIN, or no BEGIN:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The -c command is a copy of ebtrace until its exec: that copy's own
// start-up (the Go runtime and package inits, which open files) is over
// before the probes attach, so that only the command's events are cpid's.
func TestCommandStartupNotTraced(t *testing.T) {
	bin := testutil.Build(t, "./cmd/ebtrace")
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_openat /pid == cpid/ { printf("%s\n", str(args.filename)); }`, "-c", testutil.Workload(t)+" getppid 1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, name := range []string{bin, "/sys/fs/bpf"} {
		if strings.Contains(r.stdout, name+"\n") {
			t.Errorf("the command's opens include %s, which ebtrace's copy opened before its exec:\n%s", name, r.stdout)
		}
	}
}
