// tracex1: every packet received on the loopback device, one line each
// with the address of its socket buffer and its length in bytes (from the
// IP header on: lo's receive path has already taken the Ethernet header
// off), printed with bpf_printk.
//
// Run:
//   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu \
//       -c examples/2015/tracex1.bpf.c -o tracex1.bpf.o
//   ebtrace run tracex1.bpf.o
//
// Written anew for ebtrace after the kernel's 2015 sample tracex1, which
// filtered the packets of __netif_receive_skb_core by device name through
// a kprobe and printed them with bpf_trace_printk; here the
// net:netif_receive_skb tracepoint carries the device name itself.

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

// The event's record as the kernel's BTF names it (netif_receive_skb is
// one of the net_dev_template events); CO-RE finds the fields wherever
// the running kernel puts them.
struct trace_event_raw_net_dev_template {
	void *skbaddr;
	unsigned int len;
	__u32 __data_loc_name;
} __attribute__((preserve_access_index));

SEC("tracepoint/net/netif_receive_skb")
int tracex1(struct trace_event_raw_net_dev_template *ctx)
{
	// A __data_loc field holds the string's offset in the record in its
	// low 16 bits and its length in the high ones.
	__u32 loc = ctx->__data_loc_name;
	char name[4] = {};

	// Room for one byte more than "lo" and its NUL tells "lo" from
	// "lo0": the read returns the bytes it copied, the NUL included.
	if (bpf_probe_read_kernel_str(name, sizeof(name), (void *)ctx + (loc & 0xffff)) != 3 ||
	    name[0] != 'l' || name[1] != 'o')
		return 0;
	bpf_printk("skb 0x%lx len %u", (unsigned long)ctx->skbaddr, ctx->len);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
