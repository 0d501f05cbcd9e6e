/* A workload with a known call chain: main -> middle -> leaf -> getppid(),
 * N times. It sleeps briefly before and after, so ebtrace has read its
 * mappings (libc included) before it exits. */
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) int leaf(int n) {
	int s = 0;
	for (int i = 0; i < n; i++)
		s += getppid();
	return s;
}

__attribute__((noinline)) int middle(int n) { return leaf(n) + 1; }

int main(int argc, char **argv) {
	usleep(50000);
	int r = middle(argc > 1 ? atoi(argv[1]) : 1);
	usleep(50000);
	return r == 0;
}
