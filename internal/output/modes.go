package output

import (
	"fmt"
	"strconv"
	"strings"
)

// TestResult is how one test probe fared under --test.
type TestResult struct {
	Name   string // the probe, test:NAME
	Passed bool
	Reason string // why it failed: "returned 1", "exit(2)", ...
	Output string // what it printed, shown only when it failed
}

// Benchmark is one bench probe's mean run time under --bench.
type Benchmark struct {
	Name        string // NAME of bench:NAME
	Nanoseconds int64
}

// TestResult writes "PASS test:NAME", or "FAIL test:NAME: REASON" followed
// by what the test printed.
func (t *text) TestResult(r TestResult) {
	if r.Passed {
		t.w.WriteString("PASS " + r.Name + "\n")
		return
	}
	t.w.WriteString("FAIL " + r.Name + ": " + r.Reason + "\n" + r.Output)
}

// Benchmarks keeps the results for End, which writes them as a table
// before the maps.
func (t *text) Benchmarks(rs []Benchmark) { t.benchmarks = rs }

// benchmarkTable writes rs in a table of two columns, and a blank
// line to part it from the maps.
func (t *text) benchmarkTable(rs []Benchmark) {
	nameW, nsW := len("BENCHMARK"), len("NANOSECONDS")
	for _, r := range rs {
		nameW = max(nameW, len(r.Name))
		nsW = max(nsW, len(strconv.FormatInt(r.Nanoseconds, 10)))
	}
	rule := "+" + strings.Repeat("-", nameW+2) + "+" + strings.Repeat("-", nsW+2) + "+\n"
	row := func(a, b string) { fmt.Fprintf(t.w, "| %-*s | %-*s |\n", nameW, a, nsW, b) }
	t.w.WriteString(rule)
	row("BENCHMARK", "NANOSECONDS")
	t.w.WriteString(rule)
	for _, r := range rs {
		row(r.Name, strconv.FormatInt(r.Nanoseconds, 10))
	}
	t.w.WriteString(rule + "\n")
}

// TestResult writes {"type": "test", "data": {"name", "passed", "reason",
// "output"}}.
func (j *jsonw) TestResult(r TestResult) {
	fmt.Fprintf(j.w, `{"type": "test", "data": {"name": %s, "passed": %t, "reason": %s, "output": %s}}`+"\n",
		quote(r.Name), r.Passed, quote(r.Reason), quote(r.Output))
}

// Benchmarks writes {"type": "benchmarks", "data": {"NAME": NS, ...}}.
func (j *jsonw) Benchmarks(rs []Benchmark) {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = quote(r.Name) + ": " + strconv.FormatInt(r.Nanoseconds, 10)
	}
	j.w.WriteString(`{"type": "benchmarks", "data": {` + strings.Join(parts, ", ") + "}}\n")
}
