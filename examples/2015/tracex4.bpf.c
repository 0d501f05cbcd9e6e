// SPDX-License-Identifier: GPL-2.0
//
// tracex4: slab objects allocated and not freed, the C form of tracex4.bt.
// kmem_cache_alloc records each object's address with its allocation time,
// call site and cache; kmem_cache_free forgets it. Every second a
// perf_event program walks the map in the kernel (bpf_for_each_map_elem)
// and prints, with bpf_printk, one line per object older than one second:
// address, age in whole seconds, cache, allocation site (the kernel formats
// the site with %ps). Then "... and N more" when more qualify than
// max_lines, and "N objects older than 1s", every second even when N is 0.
//
//	clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c tracex4.bpf.c -o tracex4.bpf.o
//	ebtrace run --perf-event interval:s:1 --set targ_cache=filp tracex4.bpf.o
//	ebtrace run --perf-event interval:s:1 --set max_lines=20 -c 'sleep 3' tracex4.bpf.o
//
// --perf-event interval:s:1 makes the listing once a second on one CPU
// (run's default, profile:hz:99, would list 99 times a second on each).
// --set targ_cache=NAME keeps only the slab cache NAME, --set max_lines=N
// lists at most N objects a second (default 10), and -c/-p record only the
// allocations of that process (targ_tgid). Objects allocated before it
// started are not known to it.
//
// Written anew for ebtrace after the kernel's 2015 BPF sample of this name,
// with the kmem tracepoints where it used kprobes and the listing done in
// the kernel instead of by a user-space loader.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NSEC_PER_SEC 1000000000ULL
#define CACHE_LEN 32

// The events' records as the kernel's BTF names them, with only the fields
// read: CO-RE relocates each to its offset in the running kernel.
struct trace_event_raw_kmem_cache_alloc {
	unsigned long call_site;
	const void *ptr;
	__u32 __data_loc_name;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_cache_free {
	const void *ptr;
} __attribute__((preserve_access_index));

const volatile int targ_tgid = 0;
const volatile char targ_cache[CACHE_LEN] = "";
const volatile __u32 max_lines = 10;

struct object {
	__u64 born;
	__u64 call_site;
	char cache[CACHE_LEN];
};

// Live objects by address. When it is full, further allocations go
// unrecorded.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct object);
} alloc SEC(".maps");

static __always_inline int wanted_cache(const char *name)
{
	for (int i = 0; i < CACHE_LEN; i++) {
		if (name[i] != targ_cache[i])
			return 0;
		if (!name[i])
			return 1;
	}
	return 1;
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int record_alloc(struct trace_event_raw_kmem_cache_alloc *ctx)
{
	if (targ_tgid && bpf_get_current_pid_tgid() >> 32 != targ_tgid)
		return 0;
	struct object obj = {
		.born = bpf_ktime_get_ns(),
		.call_site = ctx->call_site,
	};
	// A __data_loc field holds its string's offset in the record in its
	// low 16 bits.
	bpf_probe_read_kernel_str(obj.cache, sizeof(obj.cache), (char *)ctx + (ctx->__data_loc_name & 0xffff));
	if (targ_cache[0] && !wanted_cache(obj.cache))
		return 0;
	__u64 ptr = (__u64)ctx->ptr;
	bpf_map_update_elem(&alloc, &ptr, &obj, BPF_ANY);
	return 0;
}

SEC("tracepoint/kmem/kmem_cache_free")
int forget_free(struct trace_event_raw_kmem_cache_free *ctx)
{
	__u64 ptr = (__u64)ctx->ptr;
	bpf_map_delete_elem(&alloc, &ptr);
	return 0;
}

struct bpf_map;

struct listing {
	__u64 now;
	__u32 listed;
};

// unlisted is a global, not a field of the listing on the stack: the
// verifier checks the callback until its state repeats, and a stack counter
// that grows without bound and is compared after the walk never repeats.
__u32 unlisted;

static long list_old(struct bpf_map *map, __u64 *ptr, struct object *obj, struct listing *l)
{
	__u64 age = l->now - obj->born;
	if (age <= NSEC_PER_SEC)
		return 0;
	if (l->listed < max_lines) {
		bpf_printk("0x%lx %3llus %-16s %ps", *ptr, age / NSEC_PER_SEC, obj->cache, (void *)obj->call_site);
		l->listed++;
	} else {
		unlisted++;
	}
	return 0;
}

SEC("perf_event")
int list_objects(void *ctx)
{
	struct listing l = { .now = bpf_ktime_get_ns() };
	unlisted = 0;
	bpf_for_each_map_elem(&alloc, list_old, &l, 0);
	if (unlisted)
		bpf_printk("... and %u more", unlisted);
	bpf_printk("%u objects older than 1s", l.listed + unlisted);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
