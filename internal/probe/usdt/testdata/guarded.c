/* guarded adds i to ebtrace_total and fires ebtrace:guarded(i,
 * i - 5000000000, -7) only when its semaphore is non-zero: the kernel
 * raises it while a probe is attached. _SDT_HAS_SEMAPHORES makes
 * sys/sdt.h record the semaphore in the note. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short ebtrace_guarded_semaphore __attribute__((unused)) __attribute__((section(".probes")));

int ebtrace_total;

void guarded(int i) {
	ebtrace_total += i;
	long long big = i - 5000000000LL;
	if (ebtrace_guarded_semaphore)
		DTRACE_PROBE3(ebtrace, guarded, i, big, -7);
}
