// unknown.bpf.c has a program that is not for tracing: ebtrace run says
// which section and why.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int pass(struct xdp_md *ctx) { return XDP_PASS; }

SEC("tracepoint/nosuchcategory/nosuchevent")
int missing(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
