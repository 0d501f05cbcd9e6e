/* Types defined inside a struct, as C allows: a named struct with a
 * member, a union inside it, an anonymous struct and union, and a tag
 * defined without a member. C gives every such tag file scope, so
 * struct inner and struct point are types of their own afterwards.
 * nested.c is built with this header; ctypes_e2e_test.go puts its text in
 * a script and reads what nested.c passes to visit(). */
struct outer {
	char tag[6];
	struct inner {
		short id;
		union bytes {
			unsigned int word;
			unsigned char b[4];
		} u;
		struct {
			char k;
			long long m;
		} deep;
	} in;
	union {
		int i;
		char c;
	};
	struct point {
		int x, y;
	};
	struct point *where;
	unsigned char flag;
};
