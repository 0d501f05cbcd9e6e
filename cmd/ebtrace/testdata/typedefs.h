/* Members of signed and unsigned typedef types, which a script reads
 * through kernel BTF's typedefs of the same names; printing_e2e_test.go
 * includes it. */
struct owner {
	pid_t pid;
	ssize_t len;
	__s16 small;
	uid_t uid;
};
