// uprobe.bpf.c counts the calls of the workload's main.target and their
// returns through uprobe/ and uretprobe/ sections. The test compiles it
// with -DWORKLOAD='"/path/to/workload"': a section names its binary.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 calls = 0, returns = 0;

SEC("uprobe/" WORKLOAD ":main.target")
int on_call(void *ctx)
{
	__sync_fetch_and_add(&calls, 1);
	return 0;
}

SEC("uretprobe/" WORKLOAD ":main.target")
int on_return(void *ctx)
{
	__sync_fetch_and_add(&returns, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
