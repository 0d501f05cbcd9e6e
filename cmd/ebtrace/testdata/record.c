/* A workload for C types: visit() receives records whose every field has a
 * known value, so a probe that reads them through a script struct can be
 * checked exactly. The layout is gcc's; the script's must match it. */
#include <stdlib.h>
#include <string.h>
#include "record.h"

__attribute__((noinline)) long visit(struct record *r) {
	asm volatile("" ::: "memory");
	return r->values[0];
}

/* A global: gcc may drop stores to a local it can see visit() never reads. */
struct record last = {.tag = "last", .in = {.total = -5}};

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1;
	long sum = 0;
	for (int i = 0; i < n; i++) {
		struct record r = {0};
		strcpy(r.tag, "rec");
		r.tag[3] = '0' + i % 10;
		r.ready = 1;
		r.level = 5;
		r.code = 300 + i;
		for (int j = 0; j < 4; j++)
			r.values[j] = i * 10 + j;
		r.in.id = -i;
		r.in.total = 1LL << 40 | i;
		r.next = &last;
		r.flag = 200;
		r.u.word = 0x11223344;
		sum += visit(&r);
	}
	return sum < 0;
}
