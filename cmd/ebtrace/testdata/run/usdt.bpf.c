// usdt.bpf.c counts the firings of the ticker's USDT probe ebtrace:tick
// (probe/usdt/testdata/ticker.c) through a usdt/ section. The test
// compiles it with -DTICKER='"/path/to/ticker"': a section names its
// binary. It reads no argument: libbpf's bpf_usdt_arg() needs the spec maps
// libbpf fills, which ebtrace run does not.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 ticks = 0;

SEC("usdt/" TICKER ":ebtrace:tick")
int on_tick(void *ctx)
{
	__sync_fetch_and_add(&ticks, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
