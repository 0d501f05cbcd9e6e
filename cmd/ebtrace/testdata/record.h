/* The layout the record workload passes to visit(); ctypes_e2e_test.go
 * reads it with #include "record.h" and checks every field. */
struct inner {
	short id;
	long long total;
};

struct record {
	char tag[12];
	unsigned int ready:1, level:3, code:9;
	int values[4];
	struct inner in;
	struct record *next;
	unsigned char flag;
	union {
		unsigned int word;
		unsigned char bytes[4];
	} u;
};
