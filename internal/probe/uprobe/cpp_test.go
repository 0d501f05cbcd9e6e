package uprobe

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/types"
)

// cppTarget builds testdata/target.cc, skipping without g++.
func cppTarget(t testing.TB, opt string) string {
	t.Helper()
	return testutil.BuildCXX(t, "testdata/target.cc", opt)
}

// funcs returns the func builtin of each instance.
func funcs(t *testing.T, insts []probe.Instance) []string {
	t.Helper()
	var out []string
	for _, in := range insts {
		a, ok := in.Builtin("func")
		if !ok || a.Type != types.String(len(a.Text)+1) {
			t.Errorf("%s: func = %+v, %v", in.Name(), a, ok)
		}
		out = append(out, a.Text)
	}
	return out
}

// A C++ function is probed by mangled name or, after cpp: or c++:, by its
// name without parameters, which takes every overload; func is the
// demangled name with parameters either way, and the probe is named by the
// symbol it is placed at.
func TestExpandCPP(t *testing.T) {
	bin := cppTarget(t, "-O2")
	env := &probe.Env{}
	for _, c := range []struct {
		p           Provider
		spec        string
		names, fns  []string // names without the "PROVIDER:bin:" prefix
		sameAddress bool     // all instances at one offset
	}{
		{Uprobe, "_ZN2ns3addEii", []string{"_ZN2ns3addEii"}, []string{"ns::add(int, int)"}, false},
		{Uprobe, "cpp:ns::mul", []string{"_ZN2ns3mulEii"}, []string{"ns::mul(int, int)"}, false},
		{Uretprobe, "c++:ns::mul", []string{"_ZN2ns3mulEii"}, []string{"ns::mul(int, int)"}, false},
		{Uprobe, "cpp:ns::add",
			[]string{"_ZN2ns3addEdd", "_ZN2ns3addEii", "_ZN2ns3addElll"},
			[]string{"ns::add(double, double)", "ns::add(int, int)", "ns::add(long, long, long)"}, false},
		{Uprobe, "cpp:Shape::area", []string{"_ZNK5Shape4areaEv"}, []string{"Shape::area() const"}, false},
		// The complete and base object constructors are one function
		// under two symbols: one probe.
		{Uprobe, "cpp:Shape::Shape", []string{"_ZN5ShapeC1Eii"}, []string{"Shape::Shape(int, int)"}, false},
		{Uprobe, "cpp:Shape::*",
			[]string{"_ZN5Shape4growEi", "_ZN5ShapeC1Eii", "_ZNK5Shape4areaEv", "_ZNK5Shape6scaledEi"},
			[]string{"Shape::grow(int)", "Shape::Shape(int, int)", "Shape::area() const", "Shape::scaled(int) const"}, false},
		{Uprobe, "cpp:ns::a??", []string{"_ZN2ns3addEdd", "_ZN2ns3addEii", "_ZN2ns3addElll"}, nil, false},
		// C functions keep their names, with or without the prefix.
		{Uprobe, "cpp:main", []string{"main"}, []string{"main"}, false},
		{Uprobe, "_ZN5Shape*", []string{"_ZN5Shape4growEi", "_ZN5ShapeC1Eii", "_ZN5ShapeC2Eii"}, nil, true},
	} {
		insts, err := c.p.Expand(bin+":"+c.spec, env)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		var want []string
		for _, n := range c.names {
			want = append(want, c.p.names[0]+":"+bin+":"+n)
		}
		if got := names(insts); !slices.Equal(got, want) {
			t.Errorf("%s expands to %q, want %q", c.spec, got, want)
		}
		if got := funcs(t, insts); c.fns != nil && !slices.Equal(got, c.fns) {
			t.Errorf("%s: func is %q, want %q", c.spec, got, c.fns)
		}
	}
	// The mangled name and the C++ name place the probe at one offset.
	byName, err1 := Uprobe.Expand(bin+":_ZNK5Shape4areaEv", env)
	byCPP, err2 := Uprobe.Expand(bin+":cpp:Shape::area", env)
	if err1 != nil || err2 != nil || byName[0].(*instance).offset != byCPP[0].(*instance).offset {
		t.Errorf("Shape::area by mangled name %v, %v; by C++ name %v, %v", byName, err1, byCPP, err2)
	}
	// Both constructor symbols are still there by mangled name (aliases
	// at one address).
	ctors, err := Uprobe.Expand(bin+":_ZN5ShapeC?Eii", env)
	if err != nil || len(ctors) != 2 || ctors[0].(*instance).offset != ctors[1].(*instance).offset {
		t.Errorf("_ZN5ShapeC?Eii expands to %v, %v; want two probes at one offset", names(ctors), err)
	}
	// An address inside a C++ function gives func its demangled name.
	at, err := Uprobe.Expand(fmt.Sprintf("%s:%#x", bin, symbolOf(t, bin, "_ZN2ns3mulEii").Addr), env)
	if err != nil || at[0].(*instance).fn != "ns::mul(int, int)" {
		t.Errorf("address of ns::mul: %v, %v", at, err)
	}
}

func TestExpandCPPErrors(t *testing.T) {
	bin := cppTarget(t, "-O2")
	for _, c := range []struct {
		spec      string
		msg, hint string
	}{
		{"cpp:ns::ad", `C++ function "ns::ad" does not exist in ` + bin, "did you mean ns::add, "},
		{"cpp:Shape::areas", `C++ function "Shape::areas" does not exist`, "did you mean Shape::area, "},
		{"cpp:ns::add", "", ""}, // no error
		{"cpp:ns::add(int, int)", `C++ function "ns::add(int, int)" does not exist`, "list its C++ functions with: ebtrace -l 'uprobe:" + bin + ":cpp:*'"},
		{`cpp:"ns::add(int, int)"`, `C++ function "\"ns::add(int, int)\"" does not exist`, "cpp: takes a name without parameters, and probes every overload: cpp:ns::add, not cpp:ns::add(int, int)"},
		{"cpp:Circle::*", "no function of " + bin + ` matches "cpp:Circle::*"`, "ebtrace -l 'uprobe:" + bin + ":cpp:*'"},
		{"c++:Circle::*", `matches "c++:Circle::*"`, "ebtrace -l 'uprobe:" + bin + ":c++:*'"},
		{"cpp:", "must be PATH:FUNCTION or PATH:cpp:FUNCTION", "uprobe:/opt/app:cpp:ns::Class::method"},
		{"ns::add", `function "ns::add" does not exist`, "list its functions with: ebtrace -l 'uprobe:" + bin + ":*'"},
	} {
		_, err := Uprobe.Expand(bin+":"+c.spec, &probe.Env{})
		if c.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", c.spec, err)
			}
			continue
		}
		var pe *probe.Error
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, c.msg) || !strings.Contains(strings.Join(pe.Hints, "\n"), c.hint) {
			t.Errorf("%s: %v (hints %v); want %q, hint %q", c.spec, err, hintsOf(err), c.msg, c.hint)
		}
	}
}

// -l lists C++ functions by mangled name, as bpftrace does; with the cpp:
// prefix, by the names a cpp: probe takes, each once.
func TestProbesCPP(t *testing.T) {
	bin := cppTarget(t, "-O2")
	reg := probe.NewRegistry(Uprobe, Uretprobe)
	for _, c := range []struct{ pattern, want string }{
		{"uprobe:" + bin + ":_ZN2ns*", "_ZN2ns3addEdd _ZN2ns3addEii _ZN2ns3addElll _ZN2ns3mulEii _ZN2ns5applyEPFiiiEii"},
		{"uprobe:" + bin + ":cpp:ns::*", "cpp:ns::add cpp:ns::apply cpp:ns::mul"},
		{"ur:" + bin + ":c++:Shape::*", "c++:Shape::Shape c++:Shape::area c++:Shape::grow c++:Shape::scaled"},
		{"uprobe:" + bin + ":cpp:ma*", "cpp:main"},
	} {
		var out strings.Builder
		if err := reg.List(&probe.Env{}, c.pattern, false, &out); err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		provider, _, _ := strings.Cut(c.pattern, ":")
		if provider == "ur" {
			provider = "uretprobe"
		}
		var want strings.Builder
		for _, n := range strings.Fields(c.want) {
			want.WriteString(provider + ":" + bin + ":" + n + "\n")
		}
		if out.String() != want.String() {
			t.Errorf("-l %s:\n%s\nwant:\n%s", c.pattern, out.String(), want.String())
		}
	}
}
