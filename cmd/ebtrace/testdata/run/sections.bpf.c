// sections.bpf.c has a program in every kind of section ebtrace run knows,
// for `ebtrace run -l`: what each would attach to, or why it cannot here.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PROG(sec, name) SEC(sec) int name(void *ctx) { return 0; }

PROG("tracepoint/syscalls/sys_enter_getppid", tp_enter)
PROG("tp/syscalls/sys_exit_getppid", tp_exit)
PROG("raw_tp/sys_enter", raw_enter)
PROG("raw_tracepoint/sys_exit", raw_exit)
PROG("tp_btf/sched_process_exec", btf_exec)
PROG("kprobe/do_nanosleep", kp)
PROG("kretprobe/do_nanosleep", kretp)
PROG("ksyscall/getppid", ksys)
PROG("fentry/do_nanosleep", fent)
PROG("fexit/do_nanosleep", fexi)
PROG("perf_event", sample)
PROG("tracepoint", tail_target)

char LICENSE[] SEC("license") = "GPL";
