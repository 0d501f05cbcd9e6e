package shell

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/funcs"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// Commands are the shell's commands, for completion.
var Commands = []string{".probes", ".detach", ".print", ".clear", ".zero", ".pause", ".resume", ".save", ".load", ".help", ".quit"}

// Completer completes the word before the cursor: probe types and
// tracepoint names where a probe block opens, args fields of the
// tracepoint being written, map names, builtins and functions.
type Completer struct {
	Session  *Session
	Registry *probe.Registry
	Env      *probe.Env
}

var (
	wordAtEnd   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[A-Za-z0-9_@:.*$]*$`) })
	tracepointH = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s*(?:tracepoint|t):([A-Za-z0-9_]+):([A-Za-z0-9_]+)`)
	})
)

// Complete returns the whole words that may stand for the word ending at
// the end of line; pending is the input's earlier lines, when a block
// spans several. The word is returned too: its length is what they share.
func (c *Completer) Complete(pending, line string) (word string, words []string) {
	word = wordAtEnd().FindString(line)
	opening := strings.TrimSpace(pending) == "" && strings.TrimSpace(strings.TrimSuffix(line, word)) == ""
	var cands []string
	switch {
	case opening && strings.HasPrefix(word, "."):
		cands = Commands
	case strings.HasPrefix(word, "@"):
		cands = c.Session.MapNames()
	case strings.HasPrefix(word, "args."):
		cands = c.argsFields(pending + line)
	case opening && (strings.HasPrefix(word, "tracepoint:") || strings.HasPrefix(word, "t:")):
		cands = c.tracepoints(word[:strings.Index(word, ":")+1])
	case opening:
		for _, name := range c.Registry.Canonical() {
			if name == strings.ToUpper(name) {
				cands = append(cands, name) // BEGIN, END
			} else {
				cands = append(cands, name+":")
			}
		}
	default:
		cands = append(check.BuiltinNames(), funcs.BareNames()...)
		for _, f := range funcs.Names() {
			cands = append(cands, f+"(")
		}
	}
	for _, cand := range cands {
		if strings.HasPrefix(cand, word) && cand != word {
			words = append(words, cand)
		}
	}
	slices.Sort(words)
	return word, slices.Compact(words)
}

// tracepoints lists every tracepoint as prefix CATEGORY:NAME.
func (c *Completer) tracepoints(prefix string) []string {
	events, err := c.Env.Events()
	if err != nil {
		return nil
	}
	tps, err := events.Tracepoints()
	if err != nil {
		return nil
	}
	var out []string
	for _, tp := range tps {
		out = append(out, prefix+tp.String())
	}
	return out
}

// argsFields lists args.FIELD for the tracepoint whose block is being
// written.
func (c *Completer) argsFields(input string) []string {
	m := tracepointH().FindStringSubmatch(input)
	if m == nil {
		return nil
	}
	events, err := c.Env.Events()
	if err != nil {
		return nil
	}
	f, err := events.Format(m[1], m[2])
	if err != nil {
		return nil
	}
	var out []string
	for _, fld := range f.Fields {
		if !fld.Common {
			out = append(out, "args."+fld.Name)
		}
	}
	return out
}
