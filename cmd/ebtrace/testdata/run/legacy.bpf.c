// legacy.bpf.c is written as objects for the 2015 loader
// (samples/bpf/bpf_load.c) were: a map in the "maps" section described by
// struct bpf_map_def, a program in an events/CATEGORY/NAME section, no
// BTF-defined maps. It counts the getppid(2) calls of processes named
// "workload" (or workload-SOMETHING, as the tests build it).
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

SEC("events/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
	const char want[] = "workload";
	char comm[16];
	__u32 key = 0;
	__u64 *v;

	bpf_get_current_comm(comm, sizeof(comm));
	for (int i = 0; i < sizeof(want) - 1; i++)
		if (comm[i] != want[i])
			return 0;
	v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0;
