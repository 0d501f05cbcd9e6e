package object

import (
	"fmt"
	"strings"
)

// section is what a program's ELF section name says about attaching it.
type section struct {
	// provider is the ebtrace probe type ("tracepoint", "kprobe", ...),
	// "ksyscall"/"kretsyscall" (resolved to a kprobe), "perf_event", or
	// "" for a program loaded but not attached.
	provider string
	target   string // the provider's spec: "net:netif_receive_skb"
	legacy   bool   // the 2015 loader's events/CAT/NAME
}

// sectionKind is one prefix of the section naming convention libbpf
// documents ("Program types and ELF Sections"), and the 2015 loader's.
type sectionKind struct {
	prefixes []string
	provider string
	// target turns the text after "PREFIX/" into the provider's spec;
	// nil keeps it.
	target func(string) (string, error)
}

var sectionKinds = []sectionKind{
	{prefixes: []string{"tracepoint", "tp"}, provider: "tracepoint", target: categoryName},
	{prefixes: []string{"raw_tracepoint", "raw_tp", "tp_btf"}, provider: "rawtracepoint"},
	{prefixes: []string{"kprobe"}, provider: "kprobe"},
	{prefixes: []string{"kretprobe"}, provider: "kretprobe"},
	{prefixes: []string{"ksyscall"}, provider: "ksyscall"},
	{prefixes: []string{"kretsyscall"}, provider: "kretsyscall"},
	{prefixes: []string{"fentry"}, provider: "fentry"},
	{prefixes: []string{"fexit"}, provider: "fexit"},
	{prefixes: []string{"uprobe"}, provider: "uprobe"},
	{prefixes: []string{"uretprobe"}, provider: "uretprobe"},
	{prefixes: []string{"usdt"}, provider: "usdt"},
}

// categoryName turns "CAT/NAME" into the tracepoint spec "CAT:NAME".
func categoryName(s string) (string, error) {
	cat, name, ok := strings.Cut(s, "/")
	if !ok || cat == "" || name == "" || strings.Contains(name, "/") || strings.ContainsAny(s, ": ") {
		return "", fmt.Errorf("a tracepoint section is tracepoint/CATEGORY/NAME")
	}
	return cat + ":" + name, nil
}

// parseSection reads a program's section name. Sleepable variants
// (kprobe.s, uprobe.s, ...) and libbpf's "?" (not auto-loaded) prefix are
// not attached by ebtrace: the error says so.
func parseSection(name string) (section, error) {
	if name == "perf_event" {
		return section{provider: "perf_event"}, nil
	}
	if rest, ok := strings.CutPrefix(name, "events/"); ok {
		spec, err := categoryName(rest)
		if err != nil {
			return section{}, fmt.Errorf("the 2015 loader's events/CATEGORY/NAME: %w", err)
		}
		return section{provider: "tracepoint", target: spec, legacy: true}, nil
	}
	prefix, rest, _ := strings.Cut(name, "/")
	for _, k := range sectionKinds {
		for _, p := range k.prefixes {
			if prefix != p {
				continue
			}
			if rest == "" {
				return section{}, nil
			}
			if k.target == nil {
				return section{provider: k.provider, target: rest}, nil
			}
			spec, err := k.target(rest)
			if err != nil {
				return section{}, err
			}
			return section{provider: k.provider, target: spec}, nil
		}
	}
	return section{}, fmt.Errorf("ebtrace run attaches tracing programs only (sections tracepoint/, tp/, raw_tp/, raw_tracepoint/, tp_btf/, kprobe/, kretprobe/, ksyscall/, kretsyscall/, fentry/, fexit/, uprobe/, uretprobe/, usdt/, perf_event and the 2015 loader's events/)")
}
