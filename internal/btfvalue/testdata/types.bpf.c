// types.bpf.c holds a global of every kind of C type btfvalue decodes,
// initialised to known values, and a map keyed and valued by such types;
// btfvalue's tests decode the initialised bytes through the object's BTF.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum color { RED, GREEN = 5, BLUE = -2 };

struct inner {
	short x;
	char tag[3];
};

struct every {
	__u8 u8v;
	__s8 s8v;
	__u16 u16v;
	__s16 s16v;
	__u32 u32v;
	__s32 s32v;
	__u64 u64v;
	__s64 s64v;
	_Bool flag;
	char name[8];
	unsigned char raw[4];
	__u8 mac[3];
	int nums[3];
	struct inner in;
	struct inner pair[2];
	union {
		__u32 word;
		__u16 half;
	};
	union {
		__s32 i;
		unsigned char b[4];
	} u;
	enum color color;
	enum color other;
	unsigned lo : 3;
	int mid : 4;
	enum color col : 4;
	int : 5;
	_Bool on : 1;
	void *ptr;
	double d;
	float f;
	const volatile int cv;
	unsigned __int128 big;
	struct {
		int anon_a;
	};
};

struct every every = {
	.u8v = 250,
	.s8v = -7,
	.u16v = 65000,
	.s16v = -300,
	.u32v = 4000000000u,
	.s32v = -70000,
	.u64v = 18000000000000000000ull,
	.s64v = -5000000000ll,
	.flag = 1,
	.name = "hello",
	.raw = { 1, 2, 250, 0 },
	.mac = { 'a', 'b', 0 },
	.nums = { 1, -2, 3 },
	.in = { .x = -1, .tag = "ab" },
	.pair = { { .x = 10, .tag = "p" }, { .x = 20, .tag = "q" } },
	.word = 0x00010002,
	.u = { .i = -1 },
	.color = BLUE,
	.other = 3,
	.lo = 5,
	.mid = -3,
	.col = GREEN,
	.on = 1,
	.ptr = (void *)0xffff888000001234ull,
	.d = -2.5,
	.f = 0.75f,
	.cv = 42,
	.big = ((unsigned __int128)1 << 64) | 0xff,
	.anon_a = 9,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct inner);
	__type(value, struct every);
	__uint(max_entries, 4);
} seen SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int record_every(void *ctx)
{
	bpf_map_update_elem(&seen, &every.in, &every, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
