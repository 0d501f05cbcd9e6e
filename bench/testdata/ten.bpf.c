// ten.bpf.c has ten tracepoint programs, each counting one system call's
// entries by process in a map of its own: the object BenchmarkRunObject
// loads and attaches, as bench/run.sh's "10 probes" row does for a script.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define COUNTER(call)                                                   \
	struct {                                                        \
		__uint(type, BPF_MAP_TYPE_HASH);                        \
		__uint(max_entries, 1024);                              \
		__type(key, __u32);                                     \
		__type(value, __u64);                                   \
	} call##_calls SEC(".maps");                                    \
	SEC("tracepoint/syscalls/sys_enter_" #call)                     \
	int count_##call(void *ctx)                                     \
	{                                                               \
		__u32 pid = bpf_get_current_pid_tgid() >> 32;           \
		__u64 one = 1, *n = bpf_map_lookup_elem(&call##_calls, &pid); \
		if (n)                                                  \
			__sync_fetch_and_add(n, 1);                     \
		else                                                    \
			bpf_map_update_elem(&call##_calls, &pid, &one, BPF_ANY); \
		return 0;                                               \
	}

COUNTER(openat)
COUNTER(read)
COUNTER(write)
COUNTER(close)
COUNTER(getppid)
COUNTER(getpid)
COUNTER(mmap)
COUNTER(munmap)
COUNTER(ioctl)
COUNTER(futex)

char LICENSE[] SEC("license") = "GPL";
