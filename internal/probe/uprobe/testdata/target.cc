/* target.cc is the C++ program uprobe tests attach to: a namespace
 * function with three overloads, a class with a constructor, a const
 * method and a method chain, and a function taking a function pointer.
 * For i = 0 .. N-1, N from argv[1], it calls ns::add(i, 2 * i),
 * ns::add(long(i), 1L, 2L) and Shape::area() const. Then, once each, it
 * calls ns::apply(ns::mul, 2, 3) and Shape::grow(1), which calls
 * Shape::scaled(1) const, which calls ns::add(double, double). A Shape is
 * constructed once, before the loop. It sleeps briefly before and after,
 * so a tracer has read its mappings before it exits; with a second
 * argument it first waits for a line on stdin, so a tracer can attach to
 * its PID. */
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

/* noipa keeps a function a real, unspecialized function at any -O level. */
#define KEEP __attribute__((noipa))

namespace ns {
KEEP int add(int a, int b) { return a + b; }
KEEP long add(long a, long b, long c) { return a + b + c; }
KEEP double add(double a, double b) { return a + b; }
KEEP int mul(int a, int b) { return a * b; }
KEEP int apply(int (*f)(int, int), int a, int b) { return f(a, b); }
} // namespace ns

struct Shape {
	int w, h;
	KEEP Shape(int w, int h) : w(w), h(h) {}
	KEEP int area() const { return w * h; }
	KEEP double scaled(int d) const { return ns::add(double(w), double(d)); }
	KEEP void grow(int d) { w = int(scaled(d)), h += d; }
};

int main(int argc, char **argv) {
	if (argc > 2) {
		char line[16];
		if (!fgets(line, sizeof line, stdin))
			return 2;
	}
	int n = argc > 1 ? atoi(argv[1]) : 1;
	usleep(50000);
	Shape s(2, 3);
	long sum = 0;
	for (int i = 0; i < n; i++) {
		sum += ns::add(i, 2 * i);
		sum += ns::add(long(i), 1L, 2L);
		sum += s.area();
	}
	sum += ns::apply(ns::mul, 2, 3);
	s.grow(1);
	usleep(50000);
	return sum == -1;
}
