package profile

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/probe"
)

func expand(t *testing.T, p probe.Provider, spec string) []*instance {
	t.Helper()
	ins, err := p.Expand(spec, nil)
	if err != nil {
		t.Fatalf("%s:%s: %v", p.Names()[0], spec, err)
	}
	var out []*instance
	for _, in := range ins {
		out = append(out, in.(*instance))
	}
	return out
}

func TestProfileExpand(t *testing.T) {
	for _, c := range []struct {
		spec   string
		sample uint64
		freq   bool
	}{
		{"hz:99", 99, true},
		{"hz:1e2", 100, true},
		{"s:1", 1e9, false},
		{"ms:10", 1e7, false},
		{"us:100", 1e5, false},
	} {
		in := expand(t, Profile{}, c.spec)[0]
		if in.Name() != "profile:"+c.spec {
			t.Errorf("%s: name %q", c.spec, in.Name())
		}
		a := in.attr
		if a.Type != unix.PERF_TYPE_SOFTWARE || a.Config != unix.PERF_COUNT_SW_CPU_CLOCK || a.Sample != c.sample || (a.Bits&unix.PerfBitFreq != 0) != c.freq {
			t.Errorf("%s: type %d config %d sample %d freq %v; want cpu-clock, sample %d freq %v",
				c.spec, a.Type, a.Config, a.Sample, a.Bits&unix.PerfBitFreq != 0, c.sample, c.freq)
		}
	}
}

func TestCounterExpand(t *testing.T) {
	for _, c := range []struct {
		p      probe.Provider
		spec   string
		names  []string
		typ    uint32
		config uint64
		sample uint64
	}{
		{Software{}, "cpu-clock", []string{"software:cpu-clock"}, unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK, 1000000},
		{Software{}, "cpu", []string{"software:cpu-clock"}, unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK, 1000000},
		{Software{}, "faults:1", []string{"software:page-faults:1"}, unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS, 1},
		{Software{}, "page-faults:0", []string{"software:page-faults:0"}, unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS, 100},
		{Software{}, "cs", []string{"software:context-switches"}, unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CONTEXT_SWITCHES, 1000},
		{Software{}, "major-faults:1e3", []string{"software:major-faults:1e3"}, unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS_MAJ, 1000},
		{Software{}, "*-faults:5", []string{"software:alignment-faults:5", "software:emulation-faults:5", "software:major-faults:5", "software:minor-faults:5", "software:page-faults:5"}, unix.PERF_TYPE_SOFTWARE, 0, 5},
		{Hardware{}, "cycles", []string{"hardware:cpu-cycles"}, unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CPU_CYCLES, 1000000},
		{Hardware{}, "branches:100", []string{"hardware:branch-instructions:100"}, unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_BRANCH_INSTRUCTIONS, 100},
		{Hardware{}, "ref-cycles", []string{"hardware:ref-cycles"}, unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_REF_CPU_CYCLES, 1000000},
		{Software{}, "[mp]a*-faults:5", []string{"software:major-faults:5", "software:page-faults:5"}, unix.PERF_TYPE_SOFTWARE, 0, 5},
	} {
		ins := expand(t, c.p, c.spec)
		var names []string
		for _, in := range ins {
			names = append(names, in.Name())
			a := in.attr
			if a.Type != c.typ || len(ins) == 1 && a.Config != c.config || a.Sample != c.sample || a.Bits&unix.PerfBitFreq != 0 {
				t.Errorf("%s: type %d config %d sample %d", in.Name(), a.Type, a.Config, a.Sample)
			}
			if in.hardware != (c.typ == unix.PERF_TYPE_HARDWARE) {
				t.Errorf("%s: hardware %v", in.Name(), in.hardware)
			}
		}
		if !slices.Equal(names, c.names) {
			t.Errorf("%s: instances %q, want %q", c.spec, names, c.names)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	for _, c := range []struct {
		p          probe.Provider
		spec, msg  string
		hint       string
		hintPrefix bool
	}{
		{Profile{}, "hz", `profile "hz" must be UNIT:N with N a positive integer`, "for example profile:hz:99 or profile:ms:10", false},
		{Profile{}, "hz:0", `profile "hz:0" must be UNIT:N with N a positive integer`, "", false},
		{Profile{}, "s:-1", `profile "s:-1" must be UNIT:N with N a positive integer`, "", false},
		{Profile{}, "hz:1k", `profile "hz:1k" must be UNIT:N with N a positive integer`, "", false},
		{Profile{}, "hz:99999999999999999999", `profile "hz:99999999999999999999" must be UNIT:N with N a positive integer`, "", false},
		{Profile{}, "min:1", `unknown profile unit "min"`, "units: hz, s, ms, us", false},
		{Profile{}, "s:18446744074", "profile:s:18446744074 is too long a period", "", false},
		{Software{}, "cpu-clok", `"cpu-clok" is not a software event`, "did you mean cpu-clock", true},
		{Software{}, "", "software probes need an event name", "", false},
		{Software{}, "faults:x", `software:faults:x: the count "x" is not a non-negative integer`, "for example software:alignment-faults:1000 or :1e6", false},
		{Software{}, "faults:1:2", `software:faults:1:2: the count "1:2" is not a non-negative integer`, "", false},
		{Software{}, "*clock*:1", "", "", false},
		{Hardware{}, "cycle", `"cycle" is not a hardware event`, "did you mean", true},
		{Hardware{}, "nothing*", `"nothing*" is not a hardware event`, "list them with: ebtrace -l 'hardware:*'", false},
		{Software{}, "[cpu:1", "software:[cpu:1: bad wildcard pattern [cpu: its [ at byte 0 has no closing ] (write \\[ for a literal [)", "wildcards are", true},
	} {
		_, err := c.p.Expand(c.spec, nil)
		if c.msg == "" {
			if err != nil {
				t.Errorf("%s:%s: %v", c.p.Names()[0], c.spec, err)
			}
			continue
		}
		var pe *probe.Error
		if !errors.As(err, &pe) {
			t.Errorf("%s:%s: %v, want *probe.Error", c.p.Names()[0], c.spec, err)
			continue
		}
		hintOK := c.hint == ""
		for _, h := range pe.Hints {
			hintOK = hintOK || h == c.hint || c.hintPrefix && strings.HasPrefix(h, c.hint)
		}
		if pe.Msg != c.msg || !hintOK {
			t.Errorf("%s:%s: %q %q, want %q with hint %q", c.p.Names()[0], c.spec, pe.Msg, pe.Hints, c.msg, c.hint)
		}
	}
}

func TestList(t *testing.T) {
	reg := probe.NewRegistry(Profile{}, Software{}, Hardware{})
	for _, c := range []struct{ pattern, want string }{
		{"software:*", "software:alignment-faults:\nsoftware:bpf-output:\nsoftware:context-switches:\nsoftware:cpu-clock:\n" +
			"software:cpu-migrations:\nsoftware:dummy:\nsoftware:emulation-faults:\nsoftware:major-faults:\n" +
			"software:minor-faults:\nsoftware:page-faults:\nsoftware:task-clock:\n"},
		{"s:cpu*", "software:cpu-clock:\nsoftware:cpu-migrations:\n"},
		{"h:*cycles*", "hardware:bus-cycles:\nhardware:cpu-cycles:\nhardware:ref-cycles:\n"},
		{"profile:*", ""},
	} {
		var out bytes.Buffer
		if err := reg.List(nil, c.pattern, true, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("-l %s:\n%s\nwant:\n%s", c.pattern, out.String(), c.want)
		}
	}
}

func TestParseCount(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"17", 17, true}, {"1e6", 1000000, true}, {"0e99", 0, true}, {"5e0", 5, true},
		{"18446744073709551615", 1<<64 - 1, true}, {"18446744073709551616", 0, false},
		{"2e19", 0, false}, {"1e19", 1e19, true},
		{"", 0, false}, {"e3", 0, false}, {"1e", 0, false}, {"-1", 0, false}, {"+1", 0, false},
		{"1.5", 0, false}, {"0x10", 0, false}, {"1e-3", 0, false}, {"1k", 0, false}, {" 1", 0, false},
	} {
		got, ok := parseCount(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parseCount(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// FuzzParseCount checks parseCount against arbitrary-precision arithmetic.
func FuzzParseCount(f *testing.F) {
	for _, s := range []string{"0", "1e6", "18446744073709551615", "1e19", "2e19", "e", "1e", "99e99", "007e2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseCount(s)
		mant, exp, hasExp := strings.Cut(s, "e")
		want, valid := new(big.Int).SetString(mant, 10)
		valid = valid && allDigits(mant)
		if hasExp {
			e, eok := new(big.Int).SetString(exp, 10)
			valid = valid && eok && allDigits(exp)
			if valid && want.Sign() != 0 {
				if e.Cmp(big.NewInt(40)) > 0 {
					valid = false
				} else {
					want.Mul(want, new(big.Int).Exp(big.NewInt(10), e, nil))
				}
			}
		}
		valid = valid && want.IsUint64()
		if ok != valid || ok && got != want.Uint64() {
			t.Errorf("parseCount(%q) = %d, %v; want %v, %v", s, got, ok, want, valid)
		}
	})
}

func TestParseCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
	}{
		{"0", []int{0}}, {"0-1", []int{0, 1}}, {"0-3,5,7-8", []int{0, 1, 2, 3, 5, 7, 8}},
		{"", nil}, {"1-0", nil}, {"a", nil}, {"0,", nil}, {"-1", nil}, {"0-65536", nil}, {"0-1-2", nil},
	} {
		got, err := parseCPUList(c.in)
		if !slices.Equal(got, c.want) || (err != nil) != (c.want == nil) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func FuzzParseCPUList(f *testing.F) {
	for _, s := range []string{"0", "0-1", "0-3,5,7-8", "0-65535", "0-65535,0-65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := parseCPUList(s)
		if err != nil {
			return
		}
		if len(cpus) == 0 || len(cpus) > maxCPUs {
			t.Errorf("parseCPUList(%q) gave %d CPUs", s, len(cpus))
		}
		// Rendering each CPU back and reparsing gives the same list.
		var parts []string
		for _, c := range cpus {
			parts = append(parts, fmt.Sprint(c))
		}
		again, err := parseCPUList(strings.Join(parts, ","))
		if err != nil || !slices.Equal(again, cpus) {
			t.Errorf("parseCPUList(%q) = %v; its rendering reparses as %v, %v", s, cpus, again, err)
		}
	})
}
