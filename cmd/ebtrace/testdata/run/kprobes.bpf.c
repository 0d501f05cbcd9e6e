// kprobes.bpf.c counts one process's write(2) calls through every kprobe
// section kind: kprobe/ and kretprobe/ on vfs_write, ksyscall/ and
// kretsyscall/ on the system call. Kernels without kprobes cannot run it
// (the tests run it in the VM suite).
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile int targ_tgid = 0;
__u64 kprobe_hits = 0, kretprobe_hits = 0, ksyscall_hits = 0, kretsyscall_hits = 0;

#define COUNT(sec, name, counter)                                         \
	SEC(sec) int name(void *ctx)                                      \
	{                                                                 \
		if ((bpf_get_current_pid_tgid() >> 32) == targ_tgid)      \
			__sync_fetch_and_add(&counter, 1);                \
		return 0;                                                 \
	}

COUNT("kprobe/vfs_write", on_kprobe, kprobe_hits)
COUNT("kretprobe/vfs_write", on_kretprobe, kretprobe_hits)
COUNT("ksyscall/write", on_ksyscall, ksyscall_hits)
COUNT("kretsyscall/write", on_kretsyscall, kretsyscall_hits)

char LICENSE[] SEC("license") = "GPL";
