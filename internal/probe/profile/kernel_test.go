package profile_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/profile"
	"github.com/ebtrace/ebtrace/internal/probe/special"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// These tests attach to the running kernel through the public pipeline
// (compile, load, attach, runtime) and drive programs the repo builds.

var registry = probe.NewRegistry(special.Begin, special.End, profile.Profile{}, profile.Software{}, profile.Hardware{})

// trace compiles script, attaches it, runs cmd to its end and returns what
// the session printed once finished, and how long the probes were
// attached.
func trace(t *testing.T, script string, cmd *exec.Cmd) (string, time.Duration) {
	t.Helper()
	return tracetest.Run(t, registry, &probe.Env{}, script, cmd)
}

var mapLine = regexp.MustCompile(`(?m)^@(\w*)(?:\[(\d+)\])?: (\d+)$`)

// counts parses the printed maps: "@name: N" and "@name[K]: N" lines.
func counts(t *testing.T, out string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, sub := range mapLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(sub[3])
		key := "@" + sub[1]
		if sub[2] != "" {
			key += "[" + sub[2] + "]"
		}
		m[key] = n
	}
	return m
}

func onlineCPUs(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, ok := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if ok {
			b, _ = strconv.Atoi(hi)
		}
		n += b - a + 1
	}
	return n
}

// profile:hz:99 fires 99 times a second on every busy CPU. The test keeps
// every CPU busy with a spinning workload because this VM's kernel takes
// almost no cpu-clock samples on an idle CPU (bpftrace sees the same).
func TestProfileEveryCPU(t *testing.T) {
	wl := testutil.Workload(t)
	defer keepBusy(t, wl, onlineCPUs(t))()
	out, attached := trace(t, `profile:hz:99 { @[cpu] = count(); }`, exec.Command(wl, "sleep", "1000"))
	got := counts(t, out)
	want := 99 * attached.Seconds()
	for cpu := range onlineCPUs(t) {
		n := got[fmt.Sprintf("@[%d]", cpu)]
		// The window is known to a few ms each side.
		if float64(n) < 0.7*want || float64(n) > 1.2*want+2 {
			t.Errorf("CPU %d: %d samples in %v, want about %.0f\n%s", cpu, n, attached, want, out)
		}
	}
}

// keepBusy starts n workloads spinning for 1.5 s of CPU time each, more
// than a one-second trace lasts; the returned function waits for them.
func keepBusy(t *testing.T, wl string, n int) func() {
	t.Helper()
	var spinners []*exec.Cmd
	for range n {
		c := exec.Command(wl, "spin", "1500")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		spinners = append(spinners, c)
	}
	return func() {
		for _, c := range spinners {
			c.Wait()
		}
	}
}

// A process that spins for 500 ms of CPU time is on a CPU for about 49.5
// of the 99 Hz ticks, whatever else runs: spin measures its own CPU time.
func TestProfileSamplesSpin(t *testing.T) {
	wl, comm := testutil.Renamed(t, testutil.Build(t, "./internal/cmd/workload"), "ebtsp")
	out, _ := trace(t, fmt.Sprintf(`profile:hz:99 /comm == "%s"/ { @ = count(); }`, comm), exec.Command(wl, "spin", "500"))
	n := counts(t, out)["@"]
	t.Logf("%d samples", n)
	if n < 38 || n > 60 {
		t.Errorf("%d samples of a 500 ms spin at 99 Hz, want about 50\n%s", n, out)
	}
}

// Writing to N fresh anonymous pages costs exactly N minor faults. The Go
// runtime of the touch program faults too, a number that varies a little
// from run to run, so the test compares with a run touching no page.
func TestPageFaults(t *testing.T) {
	touch, comm := testutil.Renamed(t, testutil.Build(t, "./internal/probe/profile/testdata/touch"), "ebtpf")
	script := fmt.Sprintf(`software:page-faults:1 /comm == "%s"/ { @ = count(); }`, comm)
	base, _ := trace(t, script, exec.Command(touch, "0"))
	out, _ := trace(t, script, exec.Command(touch, "4000"))
	b, n := counts(t, base)["@"], counts(t, out)["@"]
	t.Logf("%d faults with no page touched, %d with 4000", b, n)
	if b == 0 || n < 4000 || n-b < 4000-50 || n-b > 4000+100 {
		t.Errorf("touching 4000 pages added %d faults (%d - %d), want about 4000", n-b, n, b)
	}
}

// software:cs counts the context switches away from a task. The kernel's
// per-task counters (getrusage) see the same switches, but for two small
// differences: the program misses those before the exec gave the command
// its name, and rusage misses each thread's last switch, made after its
// counts were added up at exit.
func TestContextSwitches(t *testing.T) {
	wl, comm := testutil.Renamed(t, testutil.Build(t, "./internal/cmd/workload"), "ebtcs")
	cmd := exec.Command(wl, "sleep", "200")
	out, _ := trace(t, fmt.Sprintf(`software:cs:1 /comm == "%s"/ { @ = count(); }`, comm), cmd)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	kernel := int(ru.Nvcsw + ru.Nivcsw)
	n := counts(t, out)["@"]
	t.Logf("%d switches seen, rusage says %d", n, kernel)
	if n < 1 || n < kernel-5 || n > kernel+10 {
		t.Errorf("%d context switches seen, rusage says %d", n, kernel)
	}
}

// This machine may have no hardware counters; then Available says so,
// and otherwise the cycles of a spinning process are sampled.
func TestHardware(t *testing.T) {
	testutil.RequireRoot(t)
	ins, err := profile.Hardware{}.Expand("cycles:1000000", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ins[0].Available(); err != nil {
		if !errors.Is(err, ebpf.ErrNotSupported) || !strings.Contains(err.Error(), "software:cpu-clock or profile:hz:99") {
			t.Fatalf("Available() = %v, want ErrNotSupported with alternatives", err)
		}
		t.Skip(err)
	}
	wl, comm := testutil.Renamed(t, testutil.Build(t, "./internal/cmd/workload"), "ebthw")
	out, _ := trace(t, fmt.Sprintf(`hardware:cycles:1000000 /comm == "%s"/ { @ = count(); }`, comm), exec.Command(wl, "spin", "200"))
	if n := counts(t, out)["@"]; n < 10 {
		t.Errorf("%d samples of every million cycles in a 200 ms spin\n%s", n, out)
	}
}
