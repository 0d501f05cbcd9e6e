// tracex2: where the kernel frees socket buffers, counted by call site (the
// kfree_skb location, an address), and a histogram of the sizes that
// write(2) is asked to write: slot k of write_size counts the writes of
// 2^k to 2^(k+1)-1 bytes (and slot 0 the empty ones too). Both are maps
// that `ebtrace run` prints at exit. With -c or -p, ebtrace run sets
// targ_tgid and the histogram counts only that process's writes.
//
// Run:
//   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu \
//       -c examples/2015/tracex2.bpf.c -o tracex2.bpf.o
//   ebtrace run --hist write_size tracex2.bpf.o
//
// Written anew for ebtrace after the kernel's 2015 sample tracex2, which
// took kfree_skb's return address through a kprobe and sys_write's size
// argument through another; the skb:kfree_skb and
// syscalls:sys_enter_write tracepoints carry both.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// The records of the two events as the kernel's BTF names them; CO-RE finds
// the fields wherever the running kernel puts them.
struct trace_event_raw_kfree_skb {
	void *location;
} __attribute__((preserve_access_index));

struct trace_event_raw_sys_enter {
	long args[6];
} __attribute__((preserve_access_index));

// The process whose writes count, 0 for all (the libbpf-tools convention
// that ebtrace run fills in from -c and -p).
const volatile int targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} kfree_skb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} write_size SEC(".maps");

SEC("tracepoint/skb/kfree_skb")
int count_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	__u64 location = (__u64)ctx->location, zero = 0;
	__u64 *n = bpf_map_lookup_elem(&kfree_skb, &location);

	if (!n) {
		// BPF_NOEXIST: another CPU may have added the location since.
		bpf_map_update_elem(&kfree_skb, &location, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(&kfree_skb, &location);
		if (!n)
			return 0;
	}
	__sync_fetch_and_add(n, 1);
	return 0;
}

// slot_of returns the index of v's highest set bit, 0 for 0.
static __always_inline __u32 slot_of(__u64 v)
{
	__u32 k = 0;

	for (__u32 shift = 32; shift > 0; shift /= 2) {
		if (v >> shift) {
			v >>= shift;
			k += shift;
		}
	}
	return k;
}

SEC("tracepoint/syscalls/sys_enter_write")
int count_write_size(struct trace_event_raw_sys_enter *ctx)
{
	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	__u32 slot = slot_of(ctx->args[2]);
	__u64 *n = bpf_map_lookup_elem(&write_size, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
