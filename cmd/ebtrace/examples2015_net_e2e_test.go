package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/symbols"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// The network samples of examples/2015 (tracex1, tracex2, dropmon), each
// as a script and as a BPF C program run by `ebtrace run`, against the
// workload's UDP traffic on loopback: udp sends datagrams to a socket of
// its own, udpdrop to a port no socket holds, and the kernel drops those
// in __udp4_lib_rcv for want of a socket. The scripts and programs see the
// whole system, so the assertions pick out the workload's packets by their
// length or its drops by their place, and count at least as many drops as
// it caused where another program could cause more.

const (
	examples2015 = "../../examples/2015/"
	// udpPackets datagrams of udpPayload bytes; lo's receive path reports
	// each as udpLen bytes: the payload after 20 bytes of IP header and 8
	// of UDP (the Ethernet header is already gone).
	udpPackets = 20
	udpPayload = 1111
	udpLen     = udpPayload + 28
	// dropSite is the function that drops a UDP datagram sent to a port
	// without a socket, with the reason SKB_DROP_REASON_NO_SOCKET.
	dropSite = "__udp4_lib_rcv"
)

// writeSizeHist is the write(2) size histogram of `workload write 256
// 511`: one write of each size, all in one power-of-two bucket.
const writeSizeHist = `@write_size:
[256, 512)           256 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
`

var (
	tracex1Line = regexp.MustCompile(`^skb 0x[0-9a-f]+ len (\d+)$`)
	mapLine     = regexp.MustCompile(`^@(\w+)\[(\w+)\]: (\d+)$`)
)

// nonEmpty returns the lines of s that are not empty.
func nonEmpty(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// countLen checks that every line is a tracex1 line (after strip, which
// returns a line's message and whether it is one) and returns how many
// report a packet of udpLen bytes.
func countLen(t *testing.T, lines []string, strip func(string) (string, bool)) int {
	t.Helper()
	n := 0
	for _, line := range lines {
		msg, ok := strip(line)
		m := tracex1Line.FindStringSubmatch(msg)
		if !ok || m == nil {
			t.Errorf("line %q is not a tracex1 line", line)
			continue
		}
		if m[1] == strconv.Itoa(udpLen) {
			n++
		}
	}
	return n
}

func TestTracex1(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-c", fmt.Sprintf("%s udp %d %d", wl, udpPackets, udpPayload), examples2015+"tracex1.bt")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	asIs := func(line string) (string, bool) { return line, true }
	if n := countLen(t, nonEmpty(r.stdout), asIs); n != udpPackets {
		t.Errorf("%d lines of packets of %d bytes, want %d:\n%s", n, udpLen, udpPackets, r.stdout)
	}
}

// histBlock returns the histogram of map name in out, from its heading to
// the blank line after it.
func histBlock(out, name string) string {
	i := strings.Index(out, "@"+name+":\n")
	if i < 0 {
		return ""
	}
	block, _, _ := strings.Cut(out[i:], "\n\n")
	return block + "\n"
}

// mapCounts returns the values of the lines @name[KEY]: VALUE in out by
// key.
func mapCounts(t *testing.T, out, name string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, line := range nonEmpty(out) {
		m := mapLine.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		n, err := strconv.Atoi(m[3])
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		counts[m[2]] = n
	}
	return counts
}

func TestTracex2(t *testing.T) {
	wl := testutil.Workload(t)
	// -c restricts the histogram to the command's writes.
	r := runCLI(t, "-c", wl+" write 256 511", examples2015+"tracex2.bt")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	if got := histBlock(r.stdout, "write_size"); got != writeSizeHist {
		t.Errorf("write sizes of the workload:\n%s\nwant:\n%s", got, writeSizeHist)
	}
	r = runCLI(t, "-c", fmt.Sprintf("%s udpdrop %d 100", wl, udpPackets), examples2015+"tracex2.bt")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	if n := mapCounts(t, r.stdout, "kfree_skb")[dropSite]; n < udpPackets {
		t.Errorf("@kfree_skb[%s] is %d, want at least %d:\n%s", dropSite, n, udpPackets, r.stdout)
	}
	if strings.Contains(r.stdout, "@write_size") {
		t.Errorf("the workload wrote nothing, yet:\n%s", r.stdout)
	}
}

// dropmonLine is a line of the dropmon script's tables: the function, the
// reason and the count.
var dropmonLine = regexp.MustCompile(`^  (\S+) +(\S+) +(\d+)$`)

// dropTable is a table of the dropmon script: counts by function and
// reason.
type dropTable map[[2]string]int

// at returns the count of drops in fn, for any reason.
func (d dropTable) at(fn string) int {
	n := 0
	for k, v := range d {
		if k[0] == fn {
			n += v
		}
	}
	return n
}

// noSocket is the count of drops at dropSite for want of a socket.
func (d dropTable) noSocket() int { return d[[2]string{dropSite, "SKB_DROP_REASON_NO_SOCKET"}] }

// dropmonTables parses the dropmon script's output: the tables printed
// every second, in order, and the table of totals at exit.
func dropmonTables(t *testing.T, out string) (perSecond []dropTable, total dropTable) {
	t.Helper()
	heading := regexp.MustCompile(`^\d\d:\d\d:\d\d drops so far:$`)
	var table dropTable
	for _, line := range nonEmpty(out) {
		switch m := dropmonLine.FindStringSubmatch(line); {
		case heading.MatchString(line):
			if total != nil {
				t.Errorf("a table after the totals: %q", line)
			}
			table = dropTable{}
			perSecond = append(perSecond, table)
		case line == "total drops:":
			total = dropTable{}
			table = total
		case m == nil:
			t.Errorf("line %q is not a dropmon line", line)
		case table == nil:
			t.Errorf("line %q comes before any heading", line)
		default:
			n, _ := strconv.Atoi(m[3])
			table[[2]string{m[1], m[2]}] = n
		}
	}
	if total == nil {
		t.Fatalf("no totals:\n%s", out)
	}
	return perSecond, total
}

// checkDropmon checks the dropmon script's output after the workload's
// drops, and returns its totals.
func checkDropmon(t *testing.T, out string) dropTable {
	t.Helper()
	perSecond, total := dropmonTables(t, out)
	// The table printed last may be cut short by the stop; the one
	// before it has the drops too.
	most := 0
	for _, table := range perSecond {
		most = max(most, table.noSocket())
	}
	if most < udpPackets {
		t.Errorf("at most %d drops at %s for want of a socket in the %d tables printed every second, want at least %d:\n%s", most, dropSite, len(perSecond), udpPackets, out)
	}
	if n := total.noSocket(); n < most {
		t.Errorf("%d drops at %s for want of a socket in total, fewer than a table printed every second showed (%d)", n, dropSite, most)
	}
	return total
}

// dropWorkload makes the workload's drops and waits until two tables
// printed every second have had time to show them.
func dropWorkload(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(testutil.Workload(t), "udpdrop", strconv.Itoa(udpPackets), "100").CombinedOutput(); err != nil {
		t.Fatalf("workload udpdrop: %v: %s", err, out)
	}
	time.Sleep(2200 * time.Millisecond)
}

func TestDropmon(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	script := startBackground(t, "attached", examples2015+"dropmon.bt")
	dropWorkload(t)
	checkDropmon(t, script.stop(t))
}

// printkMessage returns the message of a bpf_printk line of ebtrace run.
func printkMessage(line string) (string, bool) {
	m := printkLine.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func TestTracex1C(t *testing.T) {
	obj := testutil.BuildBPF(t, examples2015+"tracex1.bpf.c")
	wl := testutil.Workload(t)
	r := runCLI(t, "run", "-c", fmt.Sprintf("%s udp %d %d", wl, udpPackets, udpPayload), obj)
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	// The script form prints as many (TestTracex1).
	if n := countLen(t, nonEmpty(r.stdout), printkMessage); n != udpPackets {
		t.Errorf("%d lines of packets of %d bytes, want %d:\n%s", n, udpLen, udpPackets, r.stdout)
	}
}

// kernelCounts sums the values of the lines @name[ADDRESS]: VALUE in out
// by the kernel function each address lies in.
func kernelCounts(t *testing.T, out, name string) map[string]int {
	t.Helper()
	ksyms, err := symbols.Kernel()
	if err != nil {
		t.Fatal(err)
	}
	byFunc := map[string]int{}
	for key, n := range mapCounts(t, out, name) {
		// The key is a __u64: ebtrace run shows it unsigned.
		addr, err := strconv.ParseUint(key, 10, 64)
		if err != nil {
			t.Fatalf("@%s[%s]: the key is not an address: %v", name, key, err)
		}
		if sym, ok := ksyms.Lookup(addr); ok {
			byFunc[sym.Name] += n
		}
	}
	return byFunc
}

func TestTracex2C(t *testing.T) {
	obj := testutil.BuildBPF(t, examples2015+"tracex2.bpf.c")
	wl := testutil.Workload(t)
	// -c sets targ_tgid: the histogram counts the command's writes only.
	r := runCLI(t, "run", "--hist", "write_size", "-c", wl+" write 256 511", obj)
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	// The script form prints the same histogram (TestTracex2).
	if got := histBlock(r.stdout, "write_size"); got != writeSizeHist {
		t.Errorf("write sizes of the workload:\n%s\nwant:\n%s", got, writeSizeHist)
	}
	r = runCLI(t, "run", "-c", fmt.Sprintf("%s udpdrop %d 100", wl, udpPackets), obj)
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	if n := kernelCounts(t, r.stdout, "kfree_skb")[dropSite]; n < udpPackets {
		t.Errorf("%d drops at %s, want at least %d:\n%s", n, dropSite, udpPackets, r.stdout)
	}
}

// dropmonCLine is a line that dropmon.bpf.c prints every second: the
// location as symbol+offset/size (and [module]), and the count.
var dropmonCLine = regexp.MustCompile(`^  ([\w.]+)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?(?: \[\w+\])? (\d+)$`)

// TestDropmonC runs dropmon's C form next to its script on
// the same drops: the C form shows them every second too, and both count
// as many at dropSite in total.
func TestDropmonC(t *testing.T) {
	obj := testutil.BuildBPF(t, examples2015+"dropmon.bpf.c")
	script := startBackground(t, "attached", examples2015+"dropmon.bt")
	prog := startBackground(t, "attached", "run", "--perf-event", "interval:s:1", obj)
	dropWorkload(t)
	out := prog.stop(t)
	total := checkDropmon(t, script.stop(t))

	var perSecond []int
	for _, line := range nonEmpty(out) {
		if mapLine.MatchString(line) {
			continue
		}
		msg, ok := printkMessage(line)
		m := dropmonCLine.FindStringSubmatch(msg)
		switch {
		case ok && msg == "drops so far:":
			perSecond = append(perSecond, 0)
		case !ok || m == nil:
			t.Errorf("line %q is not a dropmon line", line)
		case len(perSecond) == 0:
			t.Errorf("line %q comes before any heading", line)
		case m[1] == dropSite:
			n, _ := strconv.Atoi(m[2])
			perSecond[len(perSecond)-1] += n
		}
	}
	if len(perSecond) == 0 || slices.Max(perSecond) < udpPackets {
		t.Errorf("drops at %s printed every second: %v, want one at least %d:\n%s", dropSite, perSecond, udpPackets, out)
	}
	if got, want := kernelCounts(t, out, "drops")[dropSite], total.at(dropSite); got != want {
		t.Errorf("%d drops at %s in total, the script counted %d:\n%s", got, dropSite, want, out)
	}
}
