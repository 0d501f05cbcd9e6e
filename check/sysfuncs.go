package check

import (
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"ebtrace/output"
	"ebtrace/printf"
	"ebtrace/probe"
	"ebtrace/source"
	"ebtrace/syntax"
	"ebtrace/types"
)

// sysFunctions are the functions that reach into the system: addresses,
// cgroups, users, errors, files, commands and signals. Each has its
// argument counts.
var sysFunctions = map[string][2]int{
	"ntop": {1, 2}, "pton": {1, 1}, "macaddr": {1, 1}, "cgroupid": {1, 1},
	"time": {0, 1}, "cat": {1, 8}, "path": {1, 2}, "syscall_name": {1, 1},
	"strerror": {1, 1}, "signal": {1, 1}, "system": {1, 8}, "override": {1, 1},
	"len": {1, 1}, "has_key": {2, 2}, "errorf": {1, 8}, "warnf": {1, 8},
}

// sysBuiltins are the identifiers this file gives values.
var sysBuiltins = map[string]types.Type{
	"cgroup":   types.UInt64,
	"username": types.Rendered(types.RenderUser),
}

// unsafeFunctions change the system; they need --unsafe.
var unsafeFunctions = []string{"system", "signal", "override"}

// DefaultTimeFormat is what time() prints without a format, as bpftrace.
const DefaultTimeFormat = "%H:%M:%S\n"

// sysCall types a call of one of sysFunctions whose argument count is
// already checked.
func (c *checker) sysCall(e *syntax.CallExpr) types.Type {
	if slices.Contains(unsafeFunctions, e.Fun) && !c.env.Unsafe {
		c.errorf(e.Sp, "unsafe", "%s() changes the system, which is allowed only in unsafe mode", e.Fun).
			Hint("run ebtrace with --unsafe to allow system(), signal() and override()")
	}
	switch e.Fun {
	case "errorf", "warnf", "system", "cat":
		c.printf(e)
		return types.None
	case "time":
		if len(e.Args) == 1 {
			lit, ok := e.Args[0].(*syntax.StringLit)
			if !ok {
				c.errorf(e.Args[0].Span(), "arguments", "time() needs its format as a string literal").
					Hint(`for example time("%%H:%%M:%%S\n")`)
			} else if err := printf.CheckTime(lit.Value); err != nil {
				d := c.errorf(lit.Sp, "arguments", "%v", err)
				var pe *printf.Error
				if errors.As(err, &pe) {
					d.Span = literalSpan(c.info.Program.File, lit, pe.Offset, pe.End)
				}
				d.Hint("conversions: %s", printf.TimeConversions)
			}
			c.expr(e.Args[0])
		}
		return types.None
	case "ntop":
		return c.ntop(e)
	case "pton":
		return c.pton(e)
	case "macaddr":
		if t, reported := c.exprReported(e.Args[0]); !t.IsInt() && !reported {
			c.errorf(e.Args[0].Span(), "type", "macaddr() needs a pointer to 6 bytes, not %s", t)
		}
		return types.Rendered(types.RenderMAC)
	case "strerror", "syscall_name":
		if t, reported := c.exprReported(e.Args[0]); !t.IsInt() && !reported {
			what := map[string]string{"strerror": "an error number", "syscall_name": "a syscall number"}[e.Fun]
			c.errorf(e.Args[0].Span(), "type", "%s() needs %s, not %s", e.Fun, what, t)
		}
		if e.Fun == "strerror" {
			return types.Rendered(types.RenderErrno)
		}
		return types.Rendered(types.RenderSyscall)
	case "cgroupid":
		c.cgroupid(e)
		return types.UInt64
	case "signal":
		c.signal(e)
		return types.None
	case "override":
		if t, reported := c.exprReported(e.Args[0]); !t.IsInt() && !reported {
			c.errorf(e.Args[0].Span(), "type", "override() needs an integer return value, not %s", t)
		}
		if o, ok := c.cur.Instance.(probe.ReturnOverrider); !ok || !o.OverridesReturn() {
			c.errorf(e.Sp, "probe", "override() works only in kprobes, not in %s", c.cur.Instance.Name()).
				Hint("the kernel lets only a kprobe on a function's entry override its return value (functions marked ALLOW_ERROR_INJECTION)")
		}
		return types.None
	case "path":
		return c.path(e)
	case "len":
		return c.length(e)
	case "has_key":
		return c.hasKey(e)
	}
	return types.None
}

// ntop types ntop([af,] addr): an IPv4 address held in an integer, in
// network byte order as the kernel stores it, or an address ntop() or
// pton() already made.
func (c *checker) ntop(e *syntax.CallExpr) types.Type {
	addr := e.Args[len(e.Args)-1]
	t, reported := c.exprReported(addr)
	if len(e.Args) == 2 {
		if af, reported := c.exprReported(e.Args[0]); !af.IsInt() && !reported {
			c.errorf(e.Args[0].Span(), "type", "ntop() needs an address family (AF_INET is 2, AF_INET6 is 10), not %s", af)
		}
		if lit, ok := e.Args[0].(*syntax.IntLit); ok && lit.Value != unix.AF_INET && lit.Value != unix.AF_INET6 {
			c.errorf(lit.Sp, "arguments", "ntop() knows the address families 2 (AF_INET) and 10 (AF_INET6), not %d", lit.Value)
		}
	}
	switch {
	case reported:
	case t.IsInt():
	case t.Kind == types.Array && t.Elem == "uint8" && (t.Len == 4 || t.Len == 16) && c.addressable(addr):
	case t.Kind == types.Text && t.Render == types.RenderInet:
		if len(e.Args) == 2 {
			c.errorf(e.Args[0].Span(), "arguments", "this address already has its family; call ntop() with the address alone")
		}
	default:
		c.errorf(addr.Span(), "type", "ntop() needs an IPv4 address as an integer, a 4- or 16-byte array field, or an address from pton(), not %s", t).
			Hint("the kernel keeps an IPv4 address in a 32-bit integer in network byte order, or in __u8 saddr[4]: ntop(args.saddr)")
	}
	return types.Rendered(types.RenderInet)
}

// addressable reports whether e is an array ntop() can read bytes of: a
// tracepoint field or a struct member.
func (c *checker) addressable(e syntax.Expr) bool {
	_, arg := c.cur.Args[e]
	return arg || InMemory(e, c.cur)
}

// pton parses an address literal now. An IPv4 address is the 32-bit
// integer the kernel keeps it as (network byte order in memory), so it
// compares with addresses read from the kernel; an IPv6 address is a
// 16-byte value that ntop() and printf("%s") show.
func (c *checker) pton(e *syntax.CallExpr) types.Type {
	lit, ok := e.Args[0].(*syntax.StringLit)
	if !ok {
		c.expr(e.Args[0])
		c.errorf(e.Args[0].Span(), "arguments", "pton() needs the address as a string literal")
		return types.UInt64
	}
	c.expr(lit)
	ip, err := netip.ParseAddr(lit.Value)
	switch {
	case err != nil || ip.Zone() != "":
		c.errorf(lit.Sp, "arguments", "%q is not an IPv4 or IPv6 address", lit.Value).
			Hint(`for example pton("127.0.0.1") or pton("::1")`)
		return types.UInt64
	case ip.Is4():
		v4 := ip.As4()
		c.info.Consts[e] = uint64(v4[0]) | uint64(v4[1])<<8 | uint64(v4[2])<<16 | uint64(v4[3])<<24
		return types.UInt64
	}
	return types.Rendered(types.RenderInet)
}

// cgroupid resolves cgroupid("PATH") to the cgroup's id now.
func (c *checker) cgroupid(e *syntax.CallExpr) {
	lit, ok := e.Args[0].(*syntax.StringLit)
	if !ok {
		c.expr(e.Args[0])
		c.errorf(e.Args[0].Span(), "arguments", "cgroupid() needs a cgroup directory as a string literal").
			Hint(`for example cgroupid("/sys/fs/cgroup/system.slice")`)
		return
	}
	c.expr(lit)
	if c.learning {
		return
	}
	id, err := c.env.CgroupPathID(lit.Value)
	if err != nil {
		c.errorf(lit.Sp, "cgroup", "cgroupid(): %v", err).
			Hint("give the path of a cgroup v2 directory (see: mount -t cgroup2)")
		return
	}
	c.info.Consts[e] = id
}

// signals are the names signal() takes, without "SIG", by number.
var signals = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
	"KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
	"STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
	"URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
	"PWR": 30, "SYS": 31,
}

// SignalNumber returns the number of a signal name, with or without
// "SIG", as signal() takes it.
func SignalNumber(name string) (int, bool) {
	n, ok := signals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	return n, ok
}

// signal types signal(SIG): a signal number or name, sent to the current
// task. BEGIN and END run in ebtrace itself, so they cannot send one.
func (c *checker) signal(e *syntax.CallExpr) {
	arg := e.Args[0]
	if c.cur.Instance.Kind() != probe.Event {
		c.errorf(e.Sp, "probe", "signal() cannot be used in %s: it signals the task that hit the probe, and %s runs in ebtrace", c.cur.Instance.Name(), c.cur.Instance.Name()).
			Hint("use it in a probe on the process to signal, such as a tracepoint or uprobe")
	}
	switch a := arg.(type) {
	case *syntax.StringLit:
		c.expr(a)
		if _, ok := SignalNumber(a.Value); !ok {
			names := make([]string, 0, len(signals))
			for n := range signals {
				names = append(names, "SIG"+n)
			}
			d := c.errorf(a.Sp, "arguments", "unknown signal %q", a.Value)
			if close := source.Closest(strings.ToUpper(a.Value), names, 3); len(close) > 0 {
				d.Hint("did you mean %s?", strings.Join(close, ", "))
			}
		}
	case *syntax.IntLit:
		c.expr(a)
		if a.Value < 1 || a.Value > 64 {
			c.errorf(a.Sp, "arguments", "signal numbers are 1 to 64, not %d", a.Value)
		}
	default:
		if t, reported := c.exprReported(arg); !t.IsInt() && !reported {
			c.errorf(arg.Span(), "type", "signal() needs a signal number or name, not %s", t)
		}
	}
}

// path types path(p): bpf_d_path, which the kernel allows only in fentry,
// fexit and LSM programs, on a struct path pointer.
func (c *checker) path(e *syntax.CallExpr) types.Type {
	t, reported := c.exprReported(e.Args[0])
	if !reported && (!t.IsInt() || t.Kind == types.Ptr && t.Elem != "struct path") {
		c.errorf(e.Args[0].Span(), "type", "path() needs a struct path pointer, not %s", t).
			Hint("for example args.path of fentry:vfs_open")
	}
	prog := c.cur.Instance.Program()
	btfTraced := prog.Type == ebpf.Tracing && (prog.AttachType == ebpf.AttachTraceFEntry || prog.AttachType == ebpf.AttachTraceFExit)
	if !btfTraced && prog.Type != ebpf.LSM {
		c.errorf(e.Sp, "probe", "path() works only in fentry, fexit and LSM probes, not in %s", c.cur.Instance.Name()).
			Hint("the kernel allows bpf_d_path only there, e.g. fentry:vfs_open { printf(\"%%s\\n\", path(args.path)); }")
	}
	size := PathSize
	if len(e.Args) == 2 {
		lit, ok := e.Args[1].(*syntax.IntLit)
		switch {
		case !ok:
			c.expr(e.Args[1])
			c.errorf(e.Args[1].Span(), "arguments", "path() size must be an integer literal")
		case lit.Value == 0 || lit.Value > maxPathSize:
			c.expr(lit)
			c.errorf(lit.Sp, "arguments", "path() size must be 1 to %d", maxPathSize)
		default:
			c.expr(lit)
			size = int(lit.Value)
		}
	}
	return types.String(size)
}

// PathSize is the buffer path() fills without a size, as bpftrace's; a
// size may ask for up to maxPathSize, the longest string ebtrace keeps.
const (
	PathSize    = 64
	maxPathSize = 200
)

// length types len(@map), the number of entries, and len(kstack) or
// len(ustack), the number of frames.
func (c *checker) length(e *syntax.CallExpr) types.Type {
	switch a := e.Args[0].(type) {
	case *syntax.MapExpr:
		if a.Keys != nil {
			c.keys(a)
			c.errorf(a.Sp, "arguments", "len() takes a whole map such as @x, not one element")
			return types.Int64
		}
		c.cur.Types[a] = types.None
		m, ok := c.info.Maps[a.Name]
		if !ok {
			if !c.learning {
				c.unassigned(a.Sp, a.Name, "never assigned")
			}
			return types.Int64
		}
		if !m.Keyed {
			c.errorf(a.Sp, "arguments", "len() counts the keys of a keyed map; @%s has no keys", a.Name).
				Hint("a map without keys has one value; give it keys, as in @%s[pid]", a.Name)
		}
		if m.Kind == output.Hist || m.Kind == output.LHist {
			c.errorf(a.Sp, "arguments", "len() cannot count the keys of histogram @%s: each bucket is a separate element", a.Name)
		}
		return types.Int64
	}
	t, reported := c.exprReported(e.Args[0])
	if t.Kind != types.Stack && !reported {
		c.errorf(e.Args[0].Span(), "type", "len() takes a map such as @x, kstack or ustack, not %s", t).
			Hint("strlen() is the length of a string")
	}
	return types.Int64
}

// hasKey types has_key(@map, key).
func (c *checker) hasKey(e *syntax.CallExpr) types.Type {
	a, ok := e.Args[0].(*syntax.MapExpr)
	if !ok || a.Keys != nil {
		c.args(e)
		c.errorf(e.Args[0].Span(), "arguments", "has_key() takes a whole map such as @x and a key")
		return types.UInt64
	}
	c.cur.Types[a] = types.None
	key := &syntax.MapExpr{Name: a.Name, Keys: e.Args[1:], Sp: e.Sp}
	keys := c.keys(key)
	m, ok := c.info.Maps[a.Name]
	switch {
	case !ok:
		if !c.learning {
			c.unassigned(a.Sp, a.Name, "never assigned")
		}
	case !m.Keyed:
		c.errorf(a.Sp, "arguments", "@%s has no keys", a.Name)
	case m.Kind == output.Hist || m.Kind == output.LHist:
		c.errorf(a.Sp, "arguments", "has_key() cannot look into histogram @%s: each bucket is a separate element", a.Name)
	case len(keys) == 1 && len(m.Keys) > 1:
		c.errorf(e.Args[1].Span(), "map-key", "@%s has %d key parts; has_key() takes one key part here", a.Name, len(m.Keys)).
			Hint("a key of several parts needs tuples, which this version does not have")
	default:
		c.unifyKeys(m, key, keys)
	}
	return types.UInt64
}
