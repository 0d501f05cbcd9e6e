// Package deps holds, as data, which of ebtrace's packages may import which;
// its test fails when an import outside that lattice appears, so the
// pipeline's stages keep pointing one way.
package deps

// Allowed lists, for each package, the ebtrace packages it may import.
// Packages absent from the map may import no ebtrace package.
var Allowed = map[string][]string{
	"internal/syntax":                  {"internal/source"},
	"internal/preprocess":              {"internal/source"},
	"internal/probe":                   {"internal/glob", "internal/kernel", "internal/source", "internal/types"},
	"internal/probe/tracepoint":        {"internal/cdecl", "internal/kernel", "internal/probe", "internal/source", "internal/types"},
	"internal/probe/interval":          {"internal/probe"},
	"internal/probe/special":           {"internal/probe"},
	"internal/probe/self":              {"internal/probe", "internal/probe/special"},
	"internal/probe/uprobe":            {"internal/glob", "internal/kernel", "internal/probe", "internal/probe/arch", "internal/source", "internal/symbols", "internal/types"},
	"internal/probe/uprobe/uprobetest": {"internal/testutil", "internal/probe"},
	"internal/kerneltest":              {"internal/kernel"},
	"internal/tracetest":               {"internal/compile", "internal/kerneltest", "internal/testutil", "internal/kernel", "internal/load", "internal/output", "internal/plan", "internal/probe", "internal/tracer", "internal/source"},
	"internal/probe/usdt":              {"internal/glob", "internal/probe", "internal/probe/arch", "internal/probe/uprobe", "internal/source", "internal/types"},
	"internal/probe/rawtracepoint":     {"internal/glob", "internal/kernel", "internal/probe", "internal/source", "internal/types"},
	"internal/probe/profile":           {"internal/glob", "internal/probe", "internal/source"},
	"internal/probe/kprobe":            {"internal/glob", "internal/kernel", "internal/probe", "internal/probe/arch", "internal/source", "internal/types"},
	"internal/probe/fentry":            {"internal/glob", "internal/kernel", "internal/probe", "internal/probe/kprobe", "internal/source", "internal/types"},
	"internal/probe/all":               {"internal/probe", "internal/probe/fentry", "internal/probe/interval", "internal/probe/kprobe", "internal/probe/profile", "internal/probe/rawtracepoint", "internal/probe/self", "internal/probe/special", "internal/probe/tracepoint", "internal/probe/uprobe", "internal/probe/usdt"},
	"internal/corerelo":                {},
	"internal/kernel":                  {"internal/glob"},
	"internal/filter":                  {"internal/emit", "internal/kernel", "internal/source"},
	"internal/ftrace":                  {"internal/kernel"},
	"internal/ftfilter":                {"internal/cdecl", "internal/kernel", "internal/syntax", "internal/types"},
	"internal/filter/btfilter":         {"internal/compile", "internal/kernel", "internal/plan", "internal/probe", "internal/probe/all", "internal/source", "internal/syntax"},
	"internal/cdecl":                   {"internal/corerelo", "internal/glob", "internal/syntax", "internal/types"},
	"internal/funcs":                   {"internal/emit", "internal/glob", "internal/kernel", "internal/output", "internal/printf", "internal/probe", "internal/probe/arch", "internal/source", "internal/syntax", "internal/types"},
	"internal/check":                   {"internal/corerelo", "internal/cdecl", "internal/funcs", "internal/kernel", "internal/output", "internal/preprocess", "internal/printf", "internal/probe", "internal/source", "internal/syntax", "internal/types"},
	"internal/plan":                    {"internal/check", "internal/funcs", "internal/output", "internal/printf", "internal/source", "internal/syntax", "internal/types"},
	"internal/emit":                    {"internal/source", "internal/types"},
	"internal/codegen":                 {"internal/check", "internal/corerelo", "internal/emit", "internal/funcs", "internal/output", "internal/plan", "internal/probe", "internal/source", "internal/syntax", "internal/types"},
	"internal/compile":                 {"internal/check", "internal/codegen", "internal/plan", "internal/preprocess", "internal/probe", "internal/source", "internal/syntax"},
	"internal/load":                    {"internal/codegen", "internal/compile", "internal/corerelo", "internal/emit", "internal/kernel", "internal/plan", "internal/probe", "internal/source", "internal/syntax"},
	"internal/symbols":                 {"internal/kernel"},
	"internal/tracer":                  {"internal/compile", "internal/flame", "internal/funcs", "internal/kernel", "internal/load", "internal/output", "internal/plan", "internal/printf", "internal/probe", "internal/source", "internal/symbols", "internal/types"},
	"internal/shell":                   {"internal/check", "internal/compile", "internal/funcs", "internal/load", "internal/output", "internal/plan", "internal/probe", "internal/source", "internal/syntax", "internal/tracer"},
	"internal/ebt":                     {"internal/kernel"},
	"internal/record":                  {"internal/ebt", "internal/kernel", "internal/source"},
	"internal/btfvalue":                {"internal/output"},
	"internal/engine":                  {}, // cilium/ebpf only: the executor knows no stage
	"internal/object":                  {"internal/btfvalue", "internal/kernel", "internal/output", "internal/probe", "internal/probe/arch"},
	// The public package, at the module's root: its key is its whole
	// import path, which has no module prefix to trim.
	"internal/replay":            {"internal/compile", "internal/ebt", "internal/engine", "internal/ftrace", "internal/kernel", "internal/load", "internal/output", "internal/plan", "internal/probe", "internal/probe/all", "internal/source", "internal/tracer"},
	"github.com/ebtrace/ebtrace": {"internal/cdecl", "internal/check", "internal/compile", "internal/corerelo", "internal/ebt", "internal/filter", "internal/filter/btfilter", "internal/flame", "internal/ftfilter", "internal/funcs", "internal/kernel", "internal/load", "internal/object", "internal/output", "internal/plan", "internal/probe", "internal/probe/all", "internal/record", "internal/replay", "internal/shell", "internal/source", "internal/startup", "internal/syntax", "internal/tracer"},
	// The command line is the public package's first user: it imports
	// no other ebtrace package but serve, which is built on the public
	// package alone.
	"cmd/ebtrace": {"serve"},
	"serve":       {},
}
