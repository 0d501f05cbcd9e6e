/* target is the C program uprobe tests attach to. It calls add(i, 2 * i)
 * for i = 0 .. N-1, N from argv[1]; with a second argument it first waits
 * for a line on stdin, so a tracer can attach to its PID. After that it
 * calls atoi (strtol once inlined) exactly once. */
#include <stdio.h>
#include <stdlib.h>

/* noipa keeps add a real, unspecialized function at any -O level. */
__attribute__((noipa)) int add(int a, int b) { return a + b; }

int main(int argc, char **argv) {
	if (argc > 2) {
		char line[16];
		if (!fgets(line, sizeof line, stdin))
			return 2;
	}
	int n = argc > 1 ? atoi(argv[1]) : 1;
	int sum = 0;
	for (int i = 0; i < n; i++)
		sum += add(i, 2 * i);
	return sum == -1;
}
