package check

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// Config is what a script's config block and the environment set. As in
// bpftrace, a BPFTRACE_* environment variable overrides the same setting
// in the script. Zero values mean the defaults of the stage that uses them.
type Config struct {
	MaxStrlen   int    // bytes of str()'s buffer, NUL included
	MapKeysMax  uint32 // elements of each map
	PerfRbPages uint32 // pages of the event ring buffer
	StackMode   string // how kstack and ustack print without a mode
	// PrintMapsOnExit prints every map when tracing ends (the default).
	PrintMapsOnExit bool
	// MissingProbes is what an attach point naming nothing on this system
	// does: "error" stops, "warn" (the default) skips it with a warning,
	// "ignore" skips it silently. A script whose every probe is missing
	// stops whatever the setting.
	MissingProbes string
	// Unstable holds the settings of the unstable features by name
	// (unstable_map_decl, unstable_tseries): what using one does, "error"
	// refuses it, "warn" (the default) warns, "enable" allows it.
	Unstable map[string]string
	// License is the license the programs declare to the kernel.
	License string
	// MaxProbes and MaxPrograms bound the probe instances a script may
	// expand to, each one program.
	MaxProbes, MaxPrograms int
}

// licenses are the license strings license accepts: those the kernel
// takes as GPL-compatible, which the helpers ebtrace calls need.
var licenses = []string{"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"}

// defaultMaxProbes is max_probes's and max_bpf_progs's default, as
// bpftrace's.
const defaultMaxProbes = 1024

// ignoredSettings are config settings of bpftrace that ebtrace takes but
// that change nothing here, and why: scripts written for bpftrace set them.
var ignoredSettings = map[string]configSetting{
	// Symbols are read from each binary once and looked up per process
	// through its mappings when values print: there is no cache to choose.
	"cache_user_symbols": wordSetting("BPFTRACE_CACHE_USER_SYMBOLS", []string{"PER_PROGRAM", "PER_PID", "NONE"}, nil),
	// C++ names in stacks are always demangled.
	"cpp_demangle": boolSetting("BPFTRACE_CPP_DEMANGLE", nil),
	// User symbols are always read when a value first needs them.
	"lazy_symbolication": boolSetting("BPFTRACE_LAZY_SYMBOLICATION", nil),
	// ebtrace reads no DWARF line information.
	"show_debug_info": boolSetting("BPFTRACE_SHOW_DEBUG_INFO", nil),
	// cilium/ebpf sizes the verifier's log itself, growing it as needed.
	"log_size": intSetting("BPFTRACE_LOG_SIZE", nil),
	// Values go to a per-CPU scratch map when a probe's outgrow the BPF
	// stack, whatever their size.
	"on_stack_limit": intSetting("BPFTRACE_ON_STACK_LIMIT", nil),
	// cat() prints the whole file.
	"max_cat_bytes": intSetting("BPFTRACE_MAX_CAT_BYTES", nil),
	// Strings cut at their size print without a trailer.
	"str_trunc_trailer": {env: "BPFTRACE_STR_TRUNC_TRAILER", hint: "a string", set: func(*Config, uint64, string) bool { return true }},
}

// unstableModes are the values of the unstable_* settings.
var unstableModes = []string{"error", "warn", "enable"}

// boolSetting is a setting that takes true or false (1 or 0), stored in
// field unless it is nil.
func boolSetting(env string, field func(*Config) *bool) configSetting {
	return configSetting{
		env: env, hint: "true or false (1 or 0)",
		set: func(c *Config, n uint64, word string) bool {
			var v bool
			switch {
			case word == "true" || word == "" && n == 1:
				v = true
			case word == "false" || word == "" && n == 0:
			default:
				return false
			}
			if field != nil {
				*field(c) = v
			}
			return true
		},
	}
}

// intSetting is a setting that takes a positive integer, stored in field
// unless it is nil.
func intSetting(env string, field func(*Config) *int) configSetting {
	return configSetting{
		env: env, hint: "a positive integer",
		set: func(c *Config, n uint64, word string) bool {
			if word != "" || n < 1 || n > 1<<31-1 {
				return false
			}
			if field != nil {
				*field(c) = int(n)
			}
			return true
		},
	}
}

// missingProbeModes are the values of missing_probes.
var missingProbeModes = []string{"error", "warn", "ignore"}

// DefaultMaxStrlen is str()'s buffer size without max_strlen.
const DefaultMaxStrlen = 64

// MaxStrlenLimit bounds max_strlen: strings live in BPF memory, and longer
// ones make comparisons and copies too long for the verifier.
const MaxStrlenLimit = 1024

// Options are a script's inputs besides its text.
type Options struct {
	Params []string            // positional parameters: $1 is Params[0]
	Getenv func(string) string // reads the environment; nil reads none
	// NoBool types every yes/no value as an integer, as bpftrace 0.17
	// did, so that it prints as 1 or 0 (--compat=0.17).
	NoBool bool
}

// configSetting is one key a config block may set.
type configSetting struct {
	env  string // the environment variable overriding it
	hint string // what values it takes
	// set stores a value written as an integer or a word; a value out of
	// range is not stored, and set reports false.
	set func(c *Config, n uint64, word string) bool
}

var configSettings = map[string]configSetting{
	"max_strlen": {
		env: "BPFTRACE_MAX_STRLEN", hint: fmt.Sprintf("an integer from 1 to %d", MaxStrlenLimit),
		set: func(c *Config, n uint64, word string) bool {
			if word != "" || n < 1 || n > MaxStrlenLimit {
				return false
			}
			c.MaxStrlen = int(n)
			return true
		},
	},
	"max_map_keys": {
		env: "BPFTRACE_MAP_KEYS_MAX", hint: "a positive integer",
		set: func(c *Config, n uint64, word string) bool {
			if word != "" || n < 1 || n > 1<<32-1 {
				return false
			}
			c.MapKeysMax = uint32(n)
			return true
		},
	},
	"perf_rb_pages": {
		env: "BPFTRACE_PERF_RB_PAGES", hint: "a power of two number of pages, at most 262144 (1 GiB)",
		set: func(c *Config, n uint64, word string) bool {
			if word != "" || n < 1 || n > 1<<18 || n&(n-1) != 0 {
				return false
			}
			c.PerfRbPages = uint32(n)
			return true
		},
	},
	"print_maps_on_exit": boolSetting("BPFTRACE_PRINT_MAPS_ON_EXIT", func(c *Config) *bool { return &c.PrintMapsOnExit }),
	"missing_probes":     wordSetting("BPFTRACE_MISSING_PROBES", missingProbeModes, func(c *Config) *string { return &c.MissingProbes }),
	"stack_mode":         wordSetting("BPFTRACE_STACK_MODE", stackModes, func(c *Config) *string { return &c.StackMode }),
	"license":            wordSetting("BPFTRACE_LICENSE", licenses, func(c *Config) *string { return &c.License }),
	"unstable_map_decl":  unstableSetting("unstable_map_decl"),
	"unstable_tseries":   unstableSetting("unstable_tseries"),
	// & of a scratch variable or map, which ebtrace does not have: & of a
	// struct member, which it has, is not unstable.
	"unstable_addr": wordSetting("BPFTRACE_UNSTABLE_ADDR", unstableModes, nil),
	"max_probes":    intSetting("BPFTRACE_MAX_PROBES", func(c *Config) *int { return &c.MaxProbes }),
	"max_bpf_progs": intSetting("BPFTRACE_MAX_BPF_PROGS", func(c *Config) *int { return &c.MaxPrograms }),
}

func init() { maps.Copy(configSettings, ignoredSettings) }

// unstableSetting is the setting of the unstable feature name, stored in
// Config.Unstable.
func unstableSetting(name string) configSetting {
	return configSetting{
		env: "BPFTRACE_" + strings.ToUpper(name), hint: "one of " + strings.Join(unstableModes, ", "),
		set: func(c *Config, _ uint64, word string) bool {
			if !slices.Contains(unstableModes, word) {
				return false
			}
			c.Unstable[name] = word
			return true
		},
	}
}

// wordSetting is a setting that takes one of words, stored in field
// unless it is nil.
func wordSetting(env string, words []string, field func(*Config) *string) configSetting {
	return configSetting{
		env: env, hint: "one of " + strings.Join(words, ", "),
		set: func(c *Config, _ uint64, word string) bool {
			if !slices.Contains(words, word) {
				return false
			}
			if field != nil {
				*field(c) = word
			}
			return true
		},
	}
}

// config applies the config block, then the environment, to c.info.Config.
// A bad setting in the script is a diagnostic; a bad environment variable
// is an error of the environment.
func (c *checker) config(block *syntax.Config, getenv func(string) string) error {
	cfg := &c.info.Config
	cfg.MaxStrlen, cfg.StackMode, cfg.PrintMapsOnExit, cfg.MissingProbes = DefaultMaxStrlen, "bpftrace", true, "warn"
	cfg.License, cfg.MaxProbes, cfg.MaxPrograms = "GPL", defaultMaxProbes, defaultMaxProbes
	cfg.Unstable = map[string]string{}
	for name := range unstableFeatures {
		cfg.Unstable[name] = "warn"
	}
	if block != nil {
		seen := map[string]bool{}
		for _, s := range block.Settings {
			c.configSetting(cfg, s, seen)
		}
	}
	if getenv == nil {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(configSettings)) {
		set := configSettings[name]
		v := getenv(set.env)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		word := ""
		if err != nil {
			n, word = 0, v
		}
		if !set.set(cfg, n, word) {
			return fmt.Errorf("%s must be %s, not %q", set.env, set.hint, v)
		}
	}
	return nil
}

func (c *checker) configSetting(cfg *Config, s *syntax.Setting, seen map[string]bool) {
	// BPFTRACE_STACK_MODE and STACK_MODE are stack_mode, as in bpftrace.
	name := strings.ToLower(strings.TrimPrefix(s.Name, "BPFTRACE_"))
	set, ok := configSettings[name]
	if !ok {
		d := c.errorf(s.NameSp, "config", "unknown config setting %q", s.Name)
		if close := source.Closest(s.Name, slices.Sorted(maps.Keys(configSettings)), 3); len(close) > 0 {
			d.Hint("did you mean %s?", strings.Join(close, ", "))
		} else {
			d.Hint("settings: %s", strings.Join(slices.Sorted(maps.Keys(configSettings)), ", "))
		}
		return
	}
	if seen[name] {
		c.errorf(s.NameSp, "config", "%s is set twice in the config block", name)
	}
	seen[name] = true
	var n uint64
	var word string
	switch v := s.Value.(type) {
	case *syntax.IntLit:
		n = v.Value
	case *syntax.Ident:
		word = v.Name
	case *syntax.StringLit:
		word = v.Value
	default:
		c.errorf(s.Value.Span(), "config", "%s takes %s, written as a literal", name, set.hint)
		return
	}
	if !set.set(cfg, n, word) {
		c.errorf(s.Value.Span(), "config", "%s takes %s", name, set.hint)
	}
}

// probeLimit reports the attach point whose probes take the script past
// max_probes or max_bpf_progs (each probe instance is one program).
func (c *checker) probeLimit() {
	cfg := c.info.Config
	limit, setting := cfg.MaxProbes, "max_probes"
	if cfg.MaxPrograms < limit {
		limit, setting = cfg.MaxPrograms, "max_bpf_progs"
	}
	if len(c.info.Instances) <= limit {
		return
	}
	p := c.info.Instances[limit].Probe
	c.errorf(p.Sp, "config", "the script has %d probes, more than %s (%d) allows", len(c.info.Instances), setting, limit).
		Hint("a narrower wildcard attaches fewer; %s in the config block raises the limit", setting)
}

// ConfigEnv returns the environment variable that overrides the config
// setting name, as a config block spells it ("max_map_keys") or as the
// variable does, with or without its prefix ("BPFTRACE_MAP_KEYS_MAX",
// "map_keys_max"); false for no such setting.
func ConfigEnv(name string) (string, bool) {
	if s, ok := configSettings[strings.ToLower(name)]; ok {
		return s.env, true
	}
	for _, s := range configSettings {
		if strings.EqualFold(s.env, name) || strings.EqualFold(strings.TrimPrefix(s.env, "BPFTRACE_"), name) {
			return s.env, true
		}
	}
	return "", false
}

// ConfigNames lists the settings a config block may set, sorted.
func ConfigNames() []string { return slices.Sorted(maps.Keys(configSettings)) }
