// getppid.bpf.c counts one process's getppid(2) calls through a
// tracepoint, a tracepoint's tp/ alias and a raw tracepoint, counts its
// exec through a BTF-typed raw tracepoint, prints each call with bpf_printk, sends it as a typed
// ring buffer record and as an untyped perf event record, and keeps a log2
// histogram of write(2) sizes: what `ebtrace run` shows of an object.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NR_getppid 110 /* x86-64 */

const volatile int targ_tgid = 0;
const volatile char label[8] = "calls";

__u64 enter_hits = 0, exit_hits = 0, raw_hits = 0, execs = 0;

struct call {
	__u32 pid;
	__u32 n;
	char comm[16];
};
struct call *const call_type __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} calls SEC(".maps") __attribute__((btf_decl_tag("ebtrace.record=struct call")));

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} raw_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} write_sizes SEC(".maps");

struct key {
	__u32 pid;
	char label[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct key);
	__type(value, __u64);
} by_label SEC(".maps");

struct trace_event_raw_sys_enter {
	__u64 ent;
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

static int ours(void)
{
	return targ_tgid && (bpf_get_current_pid_tgid() >> 32) == targ_tgid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_enter(void *ctx)
{
	if (!ours())
		return 0;
	__u64 n = __sync_fetch_and_add(&enter_hits, 1) + 1;
	struct call *c = bpf_ringbuf_reserve(&calls, sizeof(*c), 0);
	if (c) {
		c->pid = targ_tgid;
		c->n = n;
		bpf_get_current_comm(c->comm, sizeof(c->comm));
		bpf_ringbuf_submit(c, 0);
	}
	__u32 raw = n;
	bpf_perf_event_output(ctx, &raw_calls, BPF_F_CURRENT_CPU, &raw, sizeof(raw));
	bpf_printk("getppid call %d of %s", n, label);
	struct key k = {.pid = targ_tgid};
	for (int i = 0; i < sizeof(k.label); i++)
		k.label[i] = label[i]; /* volatile reads: --set changes it */
	__u64 one = 1, *v = bpf_map_lookup_elem(&by_label, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&by_label, &k, &one, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_getppid")
int on_exit(void *ctx)
{
	if (ours())
		__sync_fetch_and_add(&exit_hits, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_raw(struct bpf_raw_tracepoint_args *ctx)
{
	if (ours() && ctx->args[1] == NR_getppid)
		__sync_fetch_and_add(&raw_hits, 1);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int on_exec(__u64 *ctx)
{
	if (ours())
		__sync_fetch_and_add(&execs, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int on_write(struct trace_event_raw_sys_enter *ctx)
{
	if (!ours())
		return 0;
	__u64 size = ctx->args[2];
	__u32 slot = 0;
	while (size > 1 && slot < 63) {
		size >>= 1;
		slot++;
	}
	__u64 *v = bpf_map_lookup_elem(&write_sizes, &slot);
	if (v)
		*v += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
