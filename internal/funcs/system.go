package funcs

import (
	"encoding/binary"
	"strconv"
	"strings"
	"unicode"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Functions that reach into the system: cgroups, errors, syscalls,
// signals, return values and file paths.

// cgroupid resolves cgroupid("PATH") to the cgroup's id now.
var cgroupid = Func{
	Name: "cgroupid", Min: 1, Max: 1, Doc: "the id of a cgroup v2 directory, resolved when the script compiles",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "a cgroup directory", `cgroupid("/sys/fs/cgroup/system.slice")`)
		if !ok {
			return types.UInt64
		}
		if c.Learning() {
			return types.UInt64
		}
		id, err := c.Env().CgroupPathID(lit.Value)
		if err != nil {
			c.Errorf(lit.Sp, "cgroup", "cgroupid(): %v", err).
				Hint("give the path of a cgroup v2 directory (see: mount -t cgroup2)")
			return types.UInt64
		}
		c.SetConst(e, id)
		return types.UInt64
	},
	Int: loadConst,
}

var strerror = Func{
	Name: "strerror", Min: 1, Max: 1, Doc: "an error number, printed as its description",
	Check: numberAsText(types.RenderErrno, "an error number"),
	To:    storeNumber,
	Render: func(b []byte) string {
		return Strerror(int64(binary.LittleEndian.Uint64(b)))
	},
}

var syscallName = Func{
	Name: "syscall_name", Min: 1, Max: 1, Doc: "a syscall number, printed as its name",
	Check: numberAsText(types.RenderSyscall, "a syscall number"),
	To:    storeNumber,
	Render: func(b []byte) string {
		n := int(int64(binary.LittleEndian.Uint64(b)))
		if name, ok := kernel.SyscallName(n); ok {
			return name
		}
		return strconv.Itoa(n)
	},
}

// numberAsText is the type rule of a function whose value is an integer
// that user space prints as text.
func numberAsText(render, what string) func(c Checker, e *syntax.CallExpr) types.Type {
	return func(c Checker, e *syntax.CallExpr) types.Type {
		if t, reported := c.ExprReported(e.Args[0]); !t.IsInt() && !reported {
			c.Errorf(e.Args[0].Span(), "type", "%s() needs %s, not %s", e.Fun, what, t)
		}
		return types.Rendered(render)
	}
}

// storeNumber writes the function's integer argument at dst.
func storeNumber(g Generator, e *syntax.CallExpr, dst int16, _ types.Type) {
	g.Int(e.Args[0])
	g.Emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
}

// Strerror is C's description of an error number: "No such file or
// directory".
func Strerror(errno int64) string {
	if errno == 0 {
		return "Success"
	}
	if errno < 0 || errno > 4095 || unix.ErrnoName(unix.Errno(errno)) == "" {
		return "Unknown error " + strconv.FormatInt(errno, 10)
	}
	msg := []rune(unix.Errno(errno).Error())
	msg[0] = unicode.ToUpper(msg[0])
	return string(msg)
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

// signal sends a signal number or name to the process of the current
// task, signal_thread to the task alone. BEGIN and END run in ebtrace
// itself, so they cannot send one.
var signal = Func{
	Name: "signal", Min: 1, Max: 1, Unsafe: true, Doc: "sends a signal to the process that hit the probe",
	Check: checkSignal,
	Int:   sendSignal(asm.FnSendSignal),
}

var signalThread = Func{
	Name: "signal_thread", Min: 1, Max: 1, Unsafe: true, Doc: "sends a signal to the thread that hit the probe",
	Check: checkSignal,
	Int:   sendSignal(asm.FnSendSignalThread),
}

func checkSignal(c Checker, e *syntax.CallExpr) types.Type {
	arg := e.Args[0]
	if in := c.Instance(); in.Kind() != probe.Event {
		c.Errorf(e.Sp, "probe", "%s() cannot be used in %s: it signals the task that hit the probe, and %s runs in ebtrace", e.Fun, in.Name(), in.Name()).
			Hint("use it in a probe on the process to signal, such as a tracepoint or uprobe")
	}
	switch a := arg.(type) {
	case *syntax.StringLit:
		c.Expr(a)
		if _, ok := SignalNumber(a.Value); !ok {
			names := make([]string, 0, len(signals))
			for n := range signals {
				names = append(names, "SIG"+n)
			}
			d := c.Errorf(a.Sp, "arguments", "unknown signal %q", a.Value)
			if close := source.Closest(strings.ToUpper(a.Value), names, 3); len(close) > 0 {
				d.Hint("did you mean %s?", strings.Join(close, ", "))
			}
		}
	case *syntax.IntLit:
		c.Expr(a)
		if a.Value < 1 || a.Value > 64 {
			c.Errorf(a.Sp, "arguments", "signal numbers are 1 to 64, not %d", a.Value)
		}
	default:
		if t, reported := c.ExprReported(arg); !t.IsInt() && !reported {
			c.Errorf(arg.Span(), "type", "%s() needs a signal number or name, not %s", e.Fun, t)
		}
	}
	return types.None
}

func sendSignal(fn asm.BuiltinFunc) func(Generator, *syntax.CallExpr) {
	return func(g Generator, e *syntax.CallExpr) {
		if lit, ok := e.Args[0].(*syntax.StringLit); ok {
			n, _ := SignalNumber(lit.Value)
			g.Emit(asm.Mov.Imm(asm.R1, int32(n)))
		} else {
			g.Int(e.Args[0])
			g.Emit(asm.Mov.Reg(asm.R1, asm.R0))
		}
		g.Emit(fn.Call())
	}
}

var override = Func{
	Name: "override", Min: 1, Max: 1, Unsafe: true, Doc: "makes the probed kernel function return a value (error injection)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		if t, reported := c.ExprReported(e.Args[0]); !t.IsInt() && !reported {
			c.Errorf(e.Args[0].Span(), "type", "override() needs an integer return value, not %s", t)
		}
		if o, ok := c.Instance().(probe.ReturnOverrider); !ok || !o.OverridesReturn() {
			c.Errorf(e.Sp, "probe", "override() works only in kprobes, not in %s", c.Instance().Name()).
				Hint("the kernel lets only a kprobe on a function's entry override its return value (functions marked ALLOW_ERROR_INJECTION)")
		}
		return types.None
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		g.Int(e.Args[0])
		g.Emit(asm.Mov.Reg(asm.R2, asm.R0), asm.Mov.Reg(asm.R1, asm.R6), asm.FnOverrideReturn.Call())
	},
}

// PathSize is the buffer path() fills without a size, as bpftrace's; a
// size may ask for up to maxPathSize, the longest string ebtrace keeps.
const (
	PathSize    = 64
	maxPathSize = 200
)

// path is bpf_d_path, which the kernel allows only in fentry, fexit and
// LSM programs, on a struct path pointer.
var path = Func{
	Name: "path", Min: 1, Max: 2, Doc: "the full path of a struct path pointer (fentry, fexit and LSM probes)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		t, reported := c.ExprReported(e.Args[0])
		if !reported && (!t.IsInt() || t.Kind == types.Ptr && t.Elem != "struct path") {
			c.Errorf(e.Args[0].Span(), "type", "path() needs a struct path pointer, not %s", t).
				Hint("for example args.path of fentry:vfs_open")
		}
		prog := c.Instance().Program()
		btfTraced := prog.Type == ebpf.Tracing && (prog.AttachType == ebpf.AttachTraceFEntry || prog.AttachType == ebpf.AttachTraceFExit)
		if !btfTraced && prog.Type != ebpf.LSM {
			c.Errorf(e.Sp, "probe", "path() works only in fentry, fexit and LSM probes, not in %s", c.Instance().Name()).
				Hint("the kernel allows bpf_d_path only there, e.g. fentry:vfs_open { printf(\"%%s\\n\", path(args.path)); }")
		}
		size := PathSize
		if len(e.Args) == 2 {
			c.Expr(e.Args[1])
			lit, ok := e.Args[1].(*syntax.IntLit)
			switch {
			case !ok:
				c.Errorf(e.Args[1].Span(), "arguments", "path() size must be an integer literal")
			case lit.Value == 0 || lit.Value > maxPathSize:
				c.Errorf(lit.Sp, "arguments", "path() size must be 1 to %d", maxPathSize)
			default:
				size = int(lit.Value)
			}
		}
		return types.String(size)
	},
	To: func(g Generator, e *syntax.CallExpr, dst int16, t types.Type) {
		typedPointerArg(g, e.Args[0])
		g.Zero(dst, types.Align8(t.Size))
		g.StackPtr(asm.R2, dst)
		g.Emit(asm.Mov.Imm(asm.R3, int32(t.Size)), asm.FnDPath.Call())
		g.CheckHelper(asm.FnDPath)
	},
}

// cgroupPath prints a cgroup id as the cgroup's path below the cgroup2
// mount, as /proc/PID/cgroup shows it: found when the value prints, so a
// cgroup removed since reads as its id.
var cgroupPath = Func{
	Name: "cgroup_path", Min: 1, Max: 1, Doc: "a cgroup id, printed as the cgroup's path (looked up when it prints)",
	Check: numberAsText(types.RenderCgroupPath, "a cgroup id"),
	To:    storeNumber,
	Render: func(b []byte) string {
		id := binary.LittleEndian.Uint64(b)
		if p, ok := kernel.CgroupPath(id); ok {
			return p
		}
		return strconv.FormatUint(id, 10)
	},
}
