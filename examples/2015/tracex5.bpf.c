// SPDX-License-Identifier: GPL-2.0
//
// tracex5: per-syscall programs reached through tail calls, the C form of
// tracex5.bt. One program runs at every syscall entry
// (raw_syscalls:sys_enter) and jumps with bpf_tail_call into the program
// that the table `handlers` holds at the syscall's number; a syscall
// without one is not printed. Each handler prints its call with its
// arguments with bpf_printk:
//
//	openat(dfd=-100, filename="/dev/zero", flags=0x80002, mode=0x0)
//	write(fd=3, buf=0xc000012345, count=777)
//	read(fd=3, buf=0xc000012345, count=777)
//	mmap(addr=0x0, len=262144, prot=0x3, flags=0x22, fd=-1, off=0)
//	munmap(addr=0x7f3a12345000, len=262144)
//	close(fd=3)
//
//	clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c tracex5.bpf.c -o tracex5.bpf.o
//	ebtrace run -c 'dd if=/dev/zero of=/dev/null bs=4k count=3' tracex5.bpf.o
//	ebtrace run -p 1234 tracex5.bpf.o
//
// -c and -p set targ_tgid, and only that process is traced. Without them
// every process is, except ebtrace itself (by its name): each line it reads
// and writes out is a read and a write that would print another line.
//
// Written anew for ebtrace after the kernel's 2015 BPF sample of this name,
// which dispatched the same way from a kprobe on the syscall entry.

#include <linux/bpf.h>
#include <asm/unistd.h>
#include <bpf/bpf_helpers.h>

// raw_syscalls:sys_enter's record as the kernel's BTF names it, with only
// the fields read: CO-RE relocates each to its offset in the running kernel.
struct trace_event_raw_sys_enter {
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

const volatile int targ_tgid = 0;

static __always_inline int is_ebtrace(void)
{
	static const char self[] = "ebtrace";
	char comm[16];
	bpf_get_current_comm(comm, sizeof(comm));
	for (int i = 0; i < sizeof(self); i++)
		if (comm[i] != self[i])
			return 0;
	return 1;
}

// The handlers are in sections without an attach point: loaded as
// tracepoint programs, which a tail call from one requires, and reached
// only through the table.

SEC("tracepoint")
int handle_openat(struct trace_event_raw_sys_enter *ctx)
{
	char filename[128];
	bpf_probe_read_user_str(filename, sizeof(filename), (const void *)ctx->args[1]);
	bpf_printk("openat(dfd=%d, filename=\"%s\", flags=0x%x, mode=0x%x)", (int)ctx->args[0], filename,
		   (int)ctx->args[2], (unsigned int)ctx->args[3]);
	return 0;
}

SEC("tracepoint")
int handle_write(struct trace_event_raw_sys_enter *ctx)
{
	bpf_printk("write(fd=%d, buf=0x%lx, count=%lu)", (int)ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint")
int handle_read(struct trace_event_raw_sys_enter *ctx)
{
	bpf_printk("read(fd=%d, buf=0x%lx, count=%lu)", (int)ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint")
int handle_mmap(struct trace_event_raw_sys_enter *ctx)
{
	bpf_printk("mmap(addr=0x%lx, len=%lu, prot=0x%lx, flags=0x%lx, fd=%d, off=%lu)", ctx->args[0], ctx->args[1],
		   ctx->args[2], ctx->args[3], (int)ctx->args[4], ctx->args[5]);
	return 0;
}

SEC("tracepoint")
int handle_munmap(struct trace_event_raw_sys_enter *ctx)
{
	bpf_printk("munmap(addr=0x%lx, len=%lu)", ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("tracepoint")
int handle_close(struct trace_event_raw_sys_enter *ctx)
{
	bpf_printk("close(fd=%d)", (int)ctx->args[0]);
	return 0;
}

// The table from syscall number to handler, filled when the object loads.
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 512);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} handlers SEC(".maps") = {
	.values = {
		[__NR_openat] = (void *)&handle_openat,
		[__NR_write] = (void *)&handle_write,
		[__NR_read] = (void *)&handle_read,
		[__NR_mmap] = (void *)&handle_mmap,
		[__NR_munmap] = (void *)&handle_munmap,
		[__NR_close] = (void *)&handle_close,
	},
};

SEC("tracepoint/raw_syscalls/sys_enter")
int dispatch(struct trace_event_raw_sys_enter *ctx)
{
	if (targ_tgid ? bpf_get_current_pid_tgid() >> 32 != targ_tgid : is_ebtrace())
		return 0;
	bpf_tail_call(ctx, &handlers, ctx->id);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
