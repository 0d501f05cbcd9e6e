// SPDX-License-Identifier: GPL-2.0
//
// tracex3.bpf.c: block I/O latency counted in log2 slots, for a live
// heatmap. Written anew for ebtrace after the 2015 kernel BPF sample
// tracex3 (the series "tracing: attach eBPF programs to tracepoints and
// syscalls"); it times each request from the block:block_rq_issue
// tracepoint to block:block_rq_complete, as tracex3.bt does, and leaves
// the drawing to ebtrace:
//
//   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c tracex3.bpf.c -o tracex3.bpf.o
//   ebtrace run tracex3.bpf.o --heatmap lat_slots        # ANSI grey cells, a row a second
//   ebtrace run tracex3.bpf.o --heatmap lat_slots -t     # text cells
//   ebtrace run tracex3.bpf.o --heatmap lat_slots --set targ_dev=$(( (7 << 20) | 0 ))   # /dev/loop0 only

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// The tracepoints' records, as the kernel's BTF names them: CO-RE finds
// the fields wherever this kernel puts them.
struct trace_event_raw_block_rq {
	__u32 dev; // dev_t: major << 20 | minor
	__u64 sector;
} __attribute__((preserve_access_index));

struct trace_event_raw_block_rq_completion {
	__u32 dev;
	__u64 sector;
} __attribute__((preserve_access_index));

// A request in flight is known by its device and first sector.
struct request_key {
	__u32 dev;
	__u32 pad; // zeroed: the whole key is hashed
	__u64 sector;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request_key);
	__type(value, __u64); // when it was issued, in ns
} issued SEC(".maps");

// Slot k counts the requests that took [2^k, 2^(k+1)) ns (slot 0 also
// those under 1 ns): what --hist and --heatmap read.
#define SLOTS 64

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} lat_slots SEC(".maps");

// The device to trace, as the tracepoints number it; 0 for all.
const volatile __u32 targ_dev = 0;

// log2 is the index of v's highest set bit (0 for 0), found by halving
// the width searched: six steps, no loop for the verifier to bound.
static __always_inline __u32 log2(__u64 v)
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

SEC("tracepoint/block/block_rq_issue")
int block_rq_issue(struct trace_event_raw_block_rq *ctx)
{
	struct request_key key = { .dev = ctx->dev, .pad = 0, .sector = ctx->sector };
	__u64 now = bpf_ktime_get_ns();

	if (targ_dev && key.dev != targ_dev)
		return 0;
	bpf_map_update_elem(&issued, &key, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int block_rq_complete(struct trace_event_raw_block_rq_completion *ctx)
{
	struct request_key key = { .dev = ctx->dev, .pad = 0, .sector = ctx->sector };
	__u64 *start = bpf_map_lookup_elem(&issued, &key);
	__u64 *count;
	__u32 slot;

	if (!start)
		return 0;
	slot = log2(bpf_ktime_get_ns() - *start);
	bpf_map_delete_elem(&issued, &key);
	count = bpf_map_lookup_elem(&lat_slots, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
