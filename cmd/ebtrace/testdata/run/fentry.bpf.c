// fentry.bpf.c counts one process's write(2) calls at vfs_write through
// BPF trampolines: fentry/ and fexit/. Kernels that refuse trampolines
// (lockdown) cannot run it (the tests run it in the VM suite).
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile int targ_tgid = 0;
__u64 fentry_hits = 0, fexit_hits = 0;

SEC("fentry/vfs_write")
int on_fentry(__u64 *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == targ_tgid)
		__sync_fetch_and_add(&fentry_hits, 1);
	return 0;
}

SEC("fexit/vfs_write")
int on_fexit(__u64 *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == targ_tgid)
		__sync_fetch_and_add(&fexit_hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
