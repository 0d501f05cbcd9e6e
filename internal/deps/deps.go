// Package deps holds, as data, which of ebtrace's packages may import which;
// its test fails when an import outside that lattice appears, so the
// pipeline's stages keep pointing one way.
package deps

// Allowed lists, for each package, the ebtrace packages it may import.
// Packages absent from the map may import no ebtrace package.
var Allowed = map[string][]string{
	"syntax":                  {"source"},
	"preprocess":              {"source"},
	"probe":                   {"glob", "kernel", "source", "types"},
	"probe/tracepoint":        {"ctypes", "kernel", "probe", "source", "types"},
	"probe/interval":          {"probe"},
	"probe/special":           {"probe"},
	"probe/self":              {"probe", "probe/special"},
	"probe/uprobe":            {"glob", "kernel", "probe", "probe/arch", "source", "symbols", "types"},
	"probe/uprobe/uprobetest": {"internal/testutil", "probe"},
	"internal/kerneltest":     {"kernel"},
	"internal/tracetest":      {"compile", "internal/kerneltest", "internal/testutil", "kernel", "load", "output", "plan", "probe", "runtime", "source"},
	"probe/usdt":              {"glob", "probe", "probe/arch", "probe/uprobe", "source", "types"},
	"probe/rawtracepoint":     {"glob", "kernel", "probe", "source", "types"},
	"probe/profile":           {"glob", "probe", "source"},
	"probe/kprobe":            {"glob", "kernel", "probe", "probe/arch", "source", "types"},
	"probe/fentry":            {"glob", "kernel", "probe", "probe/kprobe", "source", "types"},
	"probe/all":               {"probe", "probe/fentry", "probe/interval", "probe/kprobe", "probe/profile", "probe/rawtracepoint", "probe/self", "probe/special", "probe/tracepoint", "probe/uprobe", "probe/usdt"},
	"core":                    {},
	"kernel":                  {"glob"},
	"filter":                  {"emit", "kernel", "source"},
	"filter/btfilter":         {"compile", "kernel", "plan", "probe", "probe/all", "source", "syntax"},
	"ctypes":                  {"core", "glob", "syntax", "types"},
	"funcs":                   {"emit", "glob", "kernel", "output", "printf", "probe", "probe/arch", "source", "syntax", "types"},
	"check":                   {"core", "ctypes", "funcs", "kernel", "output", "preprocess", "printf", "probe", "source", "syntax", "types"},
	"plan":                    {"check", "funcs", "output", "printf", "source", "syntax", "types"},
	"emit":                    {"source", "types"},
	"codegen":                 {"check", "core", "emit", "funcs", "output", "plan", "probe", "source", "syntax", "types"},
	"compile":                 {"check", "codegen", "plan", "preprocess", "probe", "source", "syntax"},
	"load":                    {"codegen", "compile", "core", "emit", "kernel", "plan", "probe", "source", "syntax"},
	"symbols":                 {"kernel"},
	"runtime":                 {"flame", "funcs", "kernel", "load", "output", "plan", "printf", "probe", "source", "symbols", "types"},
	"record":                  {"kernel", "source"},
	"btfvalue":                {"output"},
	"object":                  {"btfvalue", "kernel", "output", "probe", "probe/arch"},
	"cmd/ebtrace": {"check", "compile", "core", "ctypes", "filter", "filter/btfilter", "flame", "funcs", "kernel", "load", "object", "output", "plan", "preprocess", "probe", "probe/all",
		"record", "runtime", "source", "syntax"},
}
