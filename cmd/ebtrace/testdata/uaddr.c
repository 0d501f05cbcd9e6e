/* uaddr is the program the uaddr() tests attach to: tick(i) for i = 1..N,
 * N from argv[1], after a line on stdin when there is a second argument,
 * so a tracer can attach to its PID first. greeting and counter are the
 * globals the tests find with uaddr(). */
#include <stdio.h>
#include <stdlib.h>

long counter;
char greeting[] = "hello uaddr";

__attribute__((noipa)) void tick(long i) { counter += i; }

int main(int argc, char **argv) {
	if (argc > 2) {
		char line[16];
		if (!fgets(line, sizeof line, stdin))
			return 2;
	}
	int n = argc > 1 ? atoi(argv[1]) : 1;
	for (int i = 1; i <= n; i++)
		tick(i);
	return counter == 0;
}
