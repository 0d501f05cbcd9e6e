package tracer_test

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// runBegin is runSession with the choices of the system functions:
// --unsafe, -k, JSON output.
func runBegin(t *testing.T, script string, unsafe, helperErrors, json bool) (stdout, warnings string) {
	t.Helper()
	opts := plan.DefaultOptions
	opts.HelperErrors = helperErrors
	return runSession(t, script, session{compile: compile.Options{Plan: opts}, unsafe: unsafe, json: json})
}

func TestAddressesAndNames(t *testing.T) {
	script := fmt.Sprintf(`BEGIN {
	printf("%%s|%%s|%%s|%%s\n", ntop(0x0100007f), ntop(2, 0x04030201), ntop(pton("fe80::1:2")), ntop(10, 0x0100007f));
	printf("%%d %%x\n", pton("127.0.0.1"), pton("10.0.0.1"));
	printf("%%s|%%s|%%s|%%s\n", strerror(2), strerror(%d), strerror(0), strerror(9999));
	printf("%%s|%%s|%%s\n", syscall_name(%d), syscall_name(%d), syscall_name(100000));
	printf("%%s\n", username);
	@addr[ntop(0x0100007f)] = count();
	@err = strerror(13);
	$s = syscall_name(%d);
	@sys[$s] = 1;
}`, unix.ENOTDIR, unix.SYS_GETPPID, unix.SYS_OPENAT, unix.SYS_WRITE)
	out, warn := runBegin(t, script, false, false, false)
	want := `127.0.0.1|1.2.3.4|fe80::1:2|7f00:1::
16777343 100000a
No such file or directory|Not a directory|Success|Unknown error 9999
getppid|openat|100000
root


@addr[127.0.0.1]: 1
@err: Permission denied
@sys[write]: 1
`
	if out != want || warn != "" {
		t.Errorf("stdout:\n%s\nwant:\n%s\nwarnings: %s", out, want, warn)
	}
}

// BEGIN runs in the test's own task, so cgroup is the test's cgroup v2
// id, the one cgroupid() finds for its directory.
func TestCgroup(t *testing.T) {
	dir := testutil.CgroupDir(t)
	out, _ := runBegin(t, fmt.Sprintf(`BEGIN { printf("%%d %%d\n", cgroup == cgroupid(%q), cgroup != 0); }`, dir), false, false, false)
	if out != "1 1\n\n\n" {
		t.Errorf("stdout %q, want cgroup to equal cgroupid(%q)", out, dir)
	}
}

func TestMapLengthAndKeys(t *testing.T) {
	out, _ := runBegin(t, `BEGIN {
	printf("%d %d\n", len(@m), has_key(@m, 1));
	@m[1] = 1; @m[2] = 2; @m[3] = 3;
	delete(@m[2]);
	@s["a"] = "x";
	printf("%d %d %d %d %d\n", len(@m), has_key(@m, 1), has_key(@m, 2), len(@s), has_key(@s, "a"));
	if (has_key(@m, 3)) { printf("three\n"); }
	@c[1] = count(); @c[2] = count(); @c[2] = count();
	printf("%d %d\n", len(@c), has_key(@c, 2));
	clear(@m);
	clear(@s);
	clear(@c);
}`, false, false, false)
	if want := "0 0\n2 1 0 1 1\nthree\n2 1\n\n\n\n\n\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
}

func TestTimeCatSystem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "greeting")
	if err := os.WriteFile(file, []byte("hello\nworld\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`BEGIN { time("%%Y|"); cat("%%s", %q); system("echo %%d %%s", 42, "x"); time(); }`, file)
	before := time.Now()
	out, warn := runBegin(t, script, true, false, false)
	year := before.Format("2006")
	head := year + "|hello\nworld\n42 x\n"
	if !strings.HasPrefix(out, head) || warn != "" {
		t.Fatalf("stdout %q, want it to start %q; warnings %q", out, head, warn)
	}
	clock, err := time.ParseInLocation("15:04:05\n\n\n", strings.TrimPrefix(out, head), time.Local)
	if err != nil {
		t.Fatalf("time() printed %q: %v", strings.TrimPrefix(out, head), err)
	}
	now := time.Now()
	got := time.Date(now.Year(), now.Month(), now.Day(), clock.Hour(), clock.Minute(), clock.Second(), 0, time.Local)
	if got.Before(before.Truncate(time.Second)) || got.After(now) {
		t.Errorf("time() printed %v, not between %v and %v", got, before, now)
	}

	out, warn = runBegin(t, fmt.Sprintf(`BEGIN { time("%%%%Y"); cat(%q); system("echo \"a\tb\""); }`, file), true, false, true)
	want := fmt.Sprintf(`{"type": "time", "data": "%%Y"}
{"type": "cat", "data": "hello\nworld\n"}
{"type": "syscall", "data": "a\tb\n"}
`)
	if out != want || warn != "" {
		t.Errorf("JSON:\n%s\nwant:\n%s\nwarnings: %q", out, want, warn)
	}

	_, warn = runBegin(t, `BEGIN { cat("/nonexistent/file"); }`, false, false, false)
	if want := "ERROR: cat(\"/nonexistent/file\"): open /nonexistent/file: no such file or directory\n"; warn != want {
		t.Errorf("warnings %q, want %q", warn, want)
	}
}

func TestErrorfWarnf(t *testing.T) {
	out, warn := runBegin(t, `BEGIN {
	errorf("bad %d", 1);
	warnf("careful: %s\n", "x"); printf("out\n");
}`, false, false, false)
	want := "test.bt:2:2-21: ERROR: bad 1\ntest.bt:3:2-29: WARNING: careful: x\n"
	if out != "out\n\n\n" || warn != want {
		t.Errorf("stdout %q, warnings:\n%s\nwant:\n%s", out, warn, want)
	}
}

// -k reports a failed probe read and a failed map update, with their
// positions, in text on the warning stream and in JSON on stdout.
func TestHelperErrors(t *testing.T) {
	testutil.RequireRoot(t)
	if goruntime.GOARCH != "amd64" {
		t.Skip("the error of reading address 0 is known for amd64 only (ERANGE: below the kernel's addresses)")
	}
	script := "BEGIN {\n  $m = macaddr(0);\n  @full[1] = 1; @full[2] = 2;\n}\n"
	opts := compile.Options{Plan: plan.Options{RingSize: 1 << 20, MaxEntries: 1, HelperErrors: true}}
	for _, json := range []bool{false, true} {
		out, warn := runSession(t, script, session{compile: opts, json: json})
		if json {
			want := `{"type": "helper_error", "data": {"msg": "Numerical result out of range", "helper": "probe_read_kernel", "retcode": -34, "line": 2, "col": 3}}
{"type": "helper_error", "data": {"msg": "Argument list too long", "helper": "map_update_elem", "retcode": -7, "line": 3, "col": 17}}
{"type": "map", "data": {"@full": {"1": 1}}}
`
			if out != want {
				t.Errorf("JSON:\n%s\nwant:\n%s", out, want)
			}
			continue
		}
		want := `test.bt:2:3-18: WARNING: Failed to probe_read_kernel: Numerical result out of range (-34)
  $m = macaddr(0);
  ~~~~~~~~~~~~~~~
test.bt:3:17-29: WARNING: Failed to map_update_elem: Argument list too long (-7)
  @full[1] = 1; @full[2] = 2;
                ~~~~~~~~~~~~
WARNING: map @full was full (1 entries): 1 updates were dropped; raise the limit with BPFTRACE_MAP_KEYS_MAX
`
		if warn != want {
			t.Errorf("warnings:\n%s\nwant:\n%s", warn, want)
		}
	}
}

// len(kstack) and len(ustack) count the frames the same stacks print.
func TestStackLength(t *testing.T) {
	out, _ := runBegin(t, `BEGIN { printf("%d%s|", len(kstack), kstack); printf("%d%s|", len(ustack), ustack); }`, false, false, false)
	parts := strings.Split(out, "|")
	if len(parts) != 3 {
		t.Fatalf("stdout %q", out)
	}
	for _, p := range parts[:2] {
		n, frames, _ := strings.Cut(p, "\n")
		if lines := strings.Count(frames, "\n"); fmt.Sprint(lines) != n || lines == 0 {
			t.Errorf("len() says %s frames, the stack prints %d:\n%s", n, lines, frames)
		}
	}
}
