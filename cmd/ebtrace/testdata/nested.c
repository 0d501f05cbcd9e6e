/* A workload for nested struct definitions: visit() receives a struct
 * outer (nested.h) whose every field has a known value, and a pointer to
 * a struct inner on its own, a type defined inside struct outer. */
#include <stdlib.h>
#include <string.h>
#include "nested.h"

__attribute__((noinline)) long visit(struct outer *o, struct inner *extra) {
	asm volatile("" ::: "memory");
	return o->in.id + extra->id;
}

/* Globals: gcc may drop stores to locals it can see visit() never reads. */
struct point origin = {3, -4};
struct inner spare = {.id = 77, .deep = {.k = 'z', .m = -1}};

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1;
	long sum = 0;
	for (int i = 0; i < n; i++) {
		struct outer o = {0};
		strcpy(o.tag, "out");
		o.tag[3] = '0' + i % 10;
		o.in.id = -i;
		o.in.u.word = 0x11223344;
		o.in.deep.k = 'k';
		o.in.deep.m = 1LL << 40 | i;
		o.i = 1000 + i;
		o.where = &origin;
		o.flag = 200;
		sum += visit(&o, &spare);
	}
	return sum < 0;
}
