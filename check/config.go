package check

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"ebtrace/source"
	"ebtrace/syntax"
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
	"print_maps_on_exit": {
		env: "BPFTRACE_PRINT_MAPS_ON_EXIT", hint: "true or false (1 or 0)",
		set: func(c *Config, n uint64, word string) bool {
			switch {
			case word == "true" || word == "" && n == 1:
				c.PrintMapsOnExit = true
			case word == "false" || word == "" && n == 0:
				c.PrintMapsOnExit = false
			default:
				return false
			}
			return true
		},
	},
	"missing_probes": wordSetting("BPFTRACE_MISSING_PROBES", missingProbeModes, func(c *Config) *string { return &c.MissingProbes }),
	"stack_mode":     wordSetting("BPFTRACE_STACK_MODE", stackModes, func(c *Config) *string { return &c.StackMode }),
}

// wordSetting is a setting that takes one of words, stored in field.
func wordSetting(env string, words []string, field func(*Config) *string) configSetting {
	return configSetting{
		env: env, hint: "one of " + strings.Join(words, ", "),
		set: func(c *Config, _ uint64, word string) bool {
			if !slices.Contains(words, word) {
				return false
			}
			*field(c) = word
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
	set, ok := configSettings[s.Name]
	if !ok {
		d := c.errorf(s.NameSp, "config", "unknown config setting %q", s.Name)
		if close := source.Closest(s.Name, slices.Sorted(maps.Keys(configSettings)), 3); len(close) > 0 {
			d.Hint("did you mean %s?", strings.Join(close, ", "))
		} else {
			d.Hint("settings: %s", strings.Join(slices.Sorted(maps.Keys(configSettings)), ", "))
		}
		return
	}
	if seen[s.Name] {
		c.errorf(s.NameSp, "config", "%s is set twice in the config block", s.Name)
	}
	seen[s.Name] = true
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
		c.errorf(s.Value.Span(), "config", "%s takes %s, written as a literal", s.Name, set.hint)
		return
	}
	if !set.set(cfg, n, word) {
		c.errorf(s.Value.Span(), "config", "%s takes %s", s.Name, set.hint)
	}
}
