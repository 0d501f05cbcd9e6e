// dropmon: packets the kernel drops, counted by where it drops them (the
// kfree_skb location). Every second a perf_event program prints the counts
// so far with bpf_printk, one line per location as symbol+offset; at exit,
// `ebtrace run` prints the map of totals, the location as an address.
//
// Run:
//   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu \
//       -c examples/2015/dropmon.bpf.c -o dropmon.bpf.o
//   ebtrace run --perf-event interval:s:1 dropmon.bpf.o
//
// Written anew for ebtrace after the kernel's 2015 sample dropmon, which
// counted the skb:kfree_skb tracepoint's events by location in a hash map
// and printed the map from user space every second.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// The event's record as the kernel's BTF names it; CO-RE finds the field
// wherever the running kernel puts it.
struct trace_event_raw_kfree_skb {
	void *location;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} drops SEC(".maps");

SEC("tracepoint/skb/kfree_skb")
int count_drop(struct trace_event_raw_kfree_skb *ctx)
{
	__u64 location = (__u64)ctx->location, zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &location);

	if (!n) {
		// BPF_NOEXIST: another CPU may have added the location since.
		bpf_map_update_elem(&drops, &location, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(&drops, &location);
		if (!n)
			return 0;
	}
	__sync_fetch_and_add(n, 1);
	return 0;
}

static long print_drop(void *map, __u64 *location, __u64 *n, void *data)
{
	bpf_printk("  %pS %llu", (void *)*location, *n);
	return 0;
}

// Runs once a second (ebtrace run --perf-event interval:s:1).
SEC("perf_event")
int print_drops(void *ctx)
{
	bpf_printk("drops so far:");
	bpf_for_each_map_elem(&drops, print_drop, 0, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
