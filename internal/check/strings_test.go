package check

import (
	"reflect"
	"testing"

	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// checkConfigured checks src with environment variables env.
func checkConfigured(t *testing.T, src string, env map[string]string) (*Info, error) {
	t.Helper()
	prog, err := syntax.Parse(source.NewFile("config.bt", src))
	if err != nil {
		t.Fatal(err)
	}
	return CheckWith(prog, all.Registry(), testEnv(), Options{Params: testParams, Getenv: func(k string) string { return env[k] }})
}

func TestConfig(t *testing.T) {
	const src = `config = { max_strlen = 16; max_map_keys = 10; perf_rb_pages = 8; stack_mode = raw; print_maps_on_exit = false }
tracepoint:syscalls:sys_enter_openat { @s = str(args.filename); @k[kstack] = count(); @p = str($2); }`
	// defaults sets the settings the script leaves to their defaults.
	defaults := func(c Config) Config {
		c.License, c.MaxProbes, c.MaxPrograms = "GPL", 1024, 1024
		c.Unstable = map[string]string{"unstable_map_decl": "warn", "unstable_tseries": "warn"}
		return c
	}
	cases := []struct {
		env  map[string]string
		want Config
	}{
		{nil, defaults(Config{MaxStrlen: 16, MapKeysMax: 10, PerfRbPages: 8, StackMode: "raw", MissingProbes: "warn"})},
		{map[string]string{"BPFTRACE_PRINT_MAPS_ON_EXIT": "1"}, defaults(Config{MaxStrlen: 16, MapKeysMax: 10, PerfRbPages: 8, StackMode: "raw", PrintMapsOnExit: true, MissingProbes: "warn"})},
		// The environment overrides the script, as in bpftrace.
		{map[string]string{"BPFTRACE_MAX_STRLEN": "100", "BPFTRACE_MAP_KEYS_MAX": "7", "BPFTRACE_PERF_RB_PAGES": "16", "BPFTRACE_STACK_MODE": "perf"},
			defaults(Config{MaxStrlen: 100, MapKeysMax: 7, PerfRbPages: 16, StackMode: "perf", MissingProbes: "warn"})},
	}
	for _, c := range cases {
		info, err := checkConfigured(t, src, c.env)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(info.Config, c.want) {
			t.Errorf("env %v: config %+v, want %+v", c.env, info.Config, c.want)
		}
		if got := info.Maps["s"].Value; got != types.String(c.want.MaxStrlen) {
			t.Errorf("env %v: str() is %v, want string[%d]", c.env, got, c.want.MaxStrlen)
		}
		if got := info.Maps["k"].Keys[0].StackMode; got != c.want.StackMode {
			t.Errorf("env %v: kstack mode %q, want %q", c.env, got, c.want.StackMode)
		}
		if got := info.Maps["p"].Value; got != types.String(len("hello")+1) {
			t.Errorf("str($2) is %v, want string[6]", got)
		}
	}
	info, err := checkConfigured(t, "BEGIN { @s = str($1); }", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info.Config, defaults(Config{MaxStrlen: DefaultMaxStrlen, StackMode: "bpftrace", PrintMapsOnExit: true, MissingProbes: "warn"})) {
		t.Errorf("defaults: %+v", info.Config)
	}
}

func TestConfigBadEnvironment(t *testing.T) {
	for name, v := range map[string]string{
		"BPFTRACE_MAX_STRLEN": "0", "BPFTRACE_MAP_KEYS_MAX": "many",
		"BPFTRACE_PERF_RB_PAGES": "5", "BPFTRACE_STACK_MODE": "pretty", "BPFTRACE_PRINT_MAPS_ON_EXIT": "yes",
	} {
		_, err := checkConfigured(t, "BEGIN {}", map[string]string{name: v})
		if err == nil || err.Error() == "" {
			t.Errorf("%s=%s: no error", name, v)
			continue
		}
		if _, ok := err.(*source.Diagnostics); ok {
			t.Errorf("%s=%s: a diagnostic (%v), want an environment error", name, v, err)
		}
	}
}
