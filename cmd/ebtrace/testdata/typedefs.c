/* A workload for typedef'd integers: visit() receives a struct owner
 * holding negative values in signed typedefs and a large one in an
 * unsigned typedef. */
#include <sys/types.h>
#include <linux/types.h>
#include "typedefs.h"

__attribute__((noinline)) long visit(struct owner *o) {
	asm volatile("" ::: "memory");
	return o->pid;
}

/* A global: gcc may drop stores to a local it can see visit() never reads. */
struct owner owner = {.pid = -999999, .len = -123456789012, .small = -300, .uid = (uid_t)-2};

int main(void) {
	return visit(&owner) == -999999 ? 0 : 1;
}
