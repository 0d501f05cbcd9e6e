/* ticker is the program USDT tests attach to. For i = 0 .. N-1, N from
 * argv[1], it fires ebtrace:tick(i, "even" or "odd"), ebtrace:sizes with
 * 1-, 2- and 8-byte arguments, calls guarded(i), whose probe fires only
 * while a tracer holds its semaphore, and fires ebtrace:total with the
 * global variable guarded adds i to (a %rip-relative operand at -O2). With
 * a second argument it first waits for a line on stdin, so a tracer can
 * attach to its PID. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>

void guarded(int i);
extern int ebtrace_total;

int main(int argc, char **argv) {
	if (argc > 2) {
		char line[16];
		if (!fgets(line, sizeof line, stdin))
			return 2;
	}
	int n = argc > 1 ? atoi(argv[1]) : 1;
	static const char *const names[] = {"even", "odd"};
	for (int i = 0; i < n; i++) {
		const char *name = names[i % 2];
		/* BPF programs cannot fault pages in: a string the tracer reads
		 * must be in memory already, so the program reads it first. */
		if (*(const volatile char *)name == 0)
			return 3;
		signed char small = -i;
		unsigned short half = 65000 + i;
		long long big = (long long)i * -1000000000LL;
		DTRACE_PROBE2(ebtrace, tick, i, name);
		DTRACE_PROBE3(ebtrace, sizes, small, half, big);
		guarded(i);
		DTRACE_PROBE1(ebtrace, total, ebtrace_total);
	}
	return 0;
}
