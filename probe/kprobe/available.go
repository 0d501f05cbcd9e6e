package kprobe

import (
	"strings"
	"sync"

	"ebtrace/kernel"
	"ebtrace/probe"
)

// Available returns nil when the running kernel can attach kprobes, else
// a *probe.Unavailable naming what it lacks. It is decided once per process.
func Available() error { return support() }

var support = sync.OnceValue(func() error {
	if kernel.HaveDynamicProbes("kprobe") {
		return nil
	}
	return &probe.Unavailable{Reason: "this kernel has no kprobes (" + kernel.MissingProbeConfig("kprobe") + " is off)"}
})

// Available implements probe.Instance.
func (i *instance) Available() error {
	err := Available()
	if err == nil {
		return nil
	}
	return probe.Unavailablef("%s: %w; %s", i.name, err, Instead(i.fn, i.ret, i.env))
}

// syscallPrefixes are the prefixes of kernel functions that implement a
// system call, or its VFS step, named after it.
var syscallPrefixes = []string{
	"__x64_sys_", "__ia32_sys_", "__arm64_sys_", "__se_sys_", "__do_sys_",
	"__x64_compat_sys_", "__ia32_compat_sys_", "__sys_", "ksys_", "do_sys_", "sys_", "vfs_",
}

// SyscallTracepoint returns the syscalls tracepoint closest to kernel
// function fn, at its entry or, with exit, its return:
// tracepoint:syscalls:sys_enter_read for __x64_sys_read, ksys_read or
// vfs_read. It returns "" when fn is no such function or the running
// kernel lacks the tracepoint.
func SyscallTracepoint(fn string, exit bool, env *probe.Env) string {
	if env == nil || env.Events == nil {
		return ""
	}
	for _, prefix := range syscallPrefixes {
		call, ok := strings.CutPrefix(fn, prefix)
		if !ok || call == "" {
			continue
		}
		event := "sys_enter_" + call
		if exit {
			event = "sys_exit_" + call
		}
		events, err := env.Events()
		if err != nil {
			return ""
		}
		if tps, err := events.Match("syscalls:" + event); err == nil && len(tps) == 1 {
			return "tracepoint:syscalls:" + event
		}
		return ""
	}
	return ""
}

// Instead suggests, in a clause, what to trace when a probe on kernel
// function fn cannot run: a syscall tracepoint when one matches, else
// tracepoints in general.
func Instead(fn string, exit bool, env *probe.Env) string {
	if tp := SyscallTracepoint(fn, exit, env); tp != "" {
		return "trace " + tp + " instead"
	}
	return "use a tracepoint or raw tracepoint instead (list them with: ebtrace -l 'tracepoint:*')"
}
