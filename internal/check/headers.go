package check

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Where a macro constant that a script uses but no header it includes
// defines can be found, for the hint of "unknown identifier".

// macroFamilies are the public headers of well-known macro families
// whose definitions sit in headers not meant to be included directly
// (glibc's bits/) or in no header of /usr/include at all (the kernel's
// own, which bpftrace's tools reach through kernel headers).
var macroFamilies = []struct {
	prefix, header string
	kernel         bool // defined only by the kernel's internal headers
}{
	{"AF_", "sys/socket.h", false},
	{"PF_", "sys/socket.h", false},
	{"SOCK_", "sys/socket.h", false},
	{"MSG_", "sys/socket.h", false},
	{"IPPROTO_", "netinet/in.h", false},
	{"O_", "fcntl.h", false},
	{"SIG", "signal.h", false},
	{"TASK_", "linux/sched.h", true},
	{"EXIT_DEAD", "linux/sched.h", true},
	{"EXIT_ZOMBIE", "linux/sched.h", true},
}

// macroName is what a macro constant's name looks like.
var macroName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`) })

// macroHeader returns the header to include for the macro constant name,
// and whether only the kernel's own headers define it; "" when none is
// known. It looks in the families above, then for a #define in the
// kernel's UAPI headers under /usr/include/linux.
func macroHeader(name string) (header string, kernelOnly bool) {
	if !macroName().MatchString(name) {
		return "", false
	}
	for _, f := range macroFamilies {
		if strings.HasPrefix(name, f.prefix) {
			return f.header, f.kernel
		}
	}
	for _, dir := range HeaderDirs {
		paths, _ := filepath.Glob(filepath.Join(dir, "linux", "*.h"))
		for _, path := range paths {
			if defines(path, name) {
				return "linux/" + filepath.Base(path), false
			}
		}
	}
	return "", false
}

// macroHint is what macroHeader found for a name.
type macroHint struct {
	header     string
	kernelOnly bool
}

// macroHeader is the package's macroHeader, searched once per name.
func (c *checker) macroHeader(name string) (string, bool) {
	h, ok := c.macroHeaders[name]
	if !ok {
		h.header, h.kernelOnly = macroHeader(name)
		if c.macroHeaders == nil {
			c.macroHeaders = map[string]macroHint{}
		}
		c.macroHeaders[name] = h
	}
	return h.header, h.kernelOnly
}

// defines reports whether the header at path has a #define of name.
func defines(path, name string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "#")
		if !ok {
			continue
		}
		rest, ok = strings.CutPrefix(strings.TrimSpace(rest), "define")
		if !ok {
			continue
		}
		if fields := strings.Fields(rest); len(fields) > 0 && fields[0] == name {
			return true
		}
	}
	return false
}
