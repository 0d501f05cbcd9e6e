/* brackets is a program whose function symbols hold wildcard characters,
 * as the symbols of Go generic functions (Sum[go.shape.int]) and C++
 * operators do: a uprobe spec naming one exactly takes it as a name. The
 * symbols are Sum[int], Sum[long], star* and starry. */

/* noipa keeps each a real function; the asm labels are their symbols. */
__attribute__((noipa)) int sum_int(int a) __asm__("\"Sum[int]\"");
__attribute__((noipa)) int sum_long(int a) __asm__("\"Sum[long]\"");
__attribute__((noipa)) int star(int a) __asm__("\"star*\"");
__attribute__((noipa)) int starry(int a);

int sum_int(int a) { return a + 1; }
int sum_long(int a) { return a + 2; }
int star(int a) { return a + 3; }
int starry(int a) { return a + 4; }

int main(int argc, char **argv) {
	(void)argv;
	return sum_int(argc) + sum_long(argc) + star(argc) + starry(argc) == 0;
}
