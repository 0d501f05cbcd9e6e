package kprobe

import (
	"strings"
	"sync"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
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
func (i *instance) Available() error { return unavailable(i.name, i.fn, i.ret, i.env) }

// unavailable is why the probe name on kernel function fn (its return,
// with ret) cannot run when this kernel has no kprobes, naming what to
// trace instead, or nil when it has them.
func unavailable(name, fn string, ret bool, env *probe.Env) error {
	err := Available()
	if err == nil {
		return nil
	}
	return probe.Unavailablef("%s: %w; %s", name, err, Instead(fn, ret, env))
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
	for _, prefix := range syscallPrefixes {
		call, ok := strings.CutPrefix(fn, prefix)
		if !ok || call == "" {
			continue
		}
		event := "syscalls:sys_enter_" + call
		if exit {
			event = "syscalls:sys_exit_" + call
		}
		if hasTracepoint(env, event) {
			return "tracepoint:" + event
		}
		return ""
	}
	return ""
}

// hasTracepoint reports whether the running kernel has the tracepoint
// CATEGORY:NAME.
func hasTracepoint(env *probe.Env, name string) bool {
	if env == nil || env.Events == nil {
		return false
	}
	events, err := env.Events()
	if err != nil {
		return false
	}
	tps, err := events.Match(name)
	return err == nil && len(tps) == 1
}

// sameEvent lists, for kernel functions that scripts commonly probe, the
// tracepoints that mark the same event, best first; kernels differ in
// which they have.
var sameEvent = map[string][]string{
	"blk_account_io_start":   {"block:block_io_start", "block:block_rq_insert"},
	"__blk_account_io_start": {"block:block_io_start", "block:block_rq_insert"},
	"blk_mq_start_request":   {"block:block_rq_issue"},
	"blk_account_io_done":    {"block:block_io_done", "block:block_rq_complete"},
	"__blk_account_io_done":  {"block:block_io_done", "block:block_rq_complete"},
	"blk_mq_end_request":     {"block:block_rq_complete"},
	"tcp_v4_connect":         {"sock:inet_sock_set_state"},
	"tcp_v6_connect":         {"sock:inet_sock_set_state"},
	"tcp_set_state":          {"sock:inet_sock_set_state"},
	"inet_csk_accept":        {"sock:inet_sock_set_state"},
	"tcp_retransmit_skb":     {"tcp:tcp_retransmit_skb"},
	"tcp_drop":               {"skb:kfree_skb"},
	"kfree_skb_reason":       {"skb:kfree_skb"},
	"oom_kill_process":       {"oom:mark_victim"},
	"try_to_wake_up":         {"sched:sched_wakeup"},
	"wake_up_new_task":       {"sched:sched_wakeup_new"},
	"finish_task_switch":     {"sched:sched_switch"},
	"do_exit":                {"sched:sched_process_exit"},
	"handle_mm_fault":        {"exceptions:page_fault_user", "exceptions:page_fault_kernel"},
	"submit_bio":             {"block:block_bio_queue"},
	"kmem_cache_alloc":       {"kmem:kmem_cache_alloc"},
	"__kmalloc":              {"kmem:kmalloc"},
}

// sameEventTracepoint returns the first tracepoint of sameEvent[fn] the
// running kernel has, or "".
func sameEventTracepoint(fn string, env *probe.Env) string {
	for _, tp := range sameEvent[fn] {
		if hasTracepoint(env, tp) {
			return "tracepoint:" + tp
		}
	}
	return ""
}

// Instead suggests, in a clause, what to trace when a probe on kernel
// function fn cannot run: a syscall tracepoint when one matches, or a
// tracepoint that marks the same event, else tracepoints in general.
func Instead(fn string, exit bool, env *probe.Env) string {
	if tp := SyscallTracepoint(fn, exit, env); tp != "" {
		return "trace " + tp + " instead"
	}
	if tp := sameEventTracepoint(fn, env); tp != "" {
		return "trace " + tp + ", which marks the same event, instead"
	}
	return "use a tracepoint or raw tracepoint instead (list them with: ebtrace -l 'tracepoint:*')"
}
