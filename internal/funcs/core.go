package funcs

// The language's own functions: the passes compile them (see the package
// comment). Their entries give names, argument counts and what each does.

// Aggregations: assigned to a map, whose kind they decide.
var (
	count   = Func{Name: "count", Max: 0, Aggregation: true, Core: true, Doc: "counts the events that reach it"}
	sum     = Func{Name: "sum", Min: 1, Max: 1, Aggregation: true, Core: true, Doc: "sums a value"}
	avg     = Func{Name: "avg", Min: 1, Max: 1, Aggregation: true, Core: true, Doc: "averages a value"}
	minFunc = Func{Name: "min", Min: 1, Max: 1, Aggregation: true, Core: true, Doc: "keeps the least value"}
	maxFunc = Func{Name: "max", Min: 1, Max: 1, Aggregation: true, Core: true, Doc: "keeps the greatest value"}
	stats   = Func{Name: "stats", Min: 1, Max: 1, Aggregation: true, Core: true, Doc: "counts, sums and averages a value"}
	hist    = Func{Name: "hist", Min: 1, Max: 2, Aggregation: true, Core: true, Doc: "a power-of-two histogram of a value, each power split into 2^BITS buckets"}
	lhist   = Func{Name: "lhist", Min: 4, Max: 4, Aggregation: true, Core: true, Doc: "a linear histogram of a value: min, max, step"}
	tseries = Func{Name: "tseries", Min: 3, Max: 4, Aggregation: true, Core: true, Doc: "a value over time: interval, number of intervals kept, aggregation"}
)

// Output: each call sends an event that user space prints or acts on.
var (
	printfFunc = Func{Name: "printf", Min: 1, Max: 32, Core: true, Doc: "prints formatted text"}
	errorf     = Func{Name: "errorf", Min: 1, Max: 8, Core: true, Doc: "prints an error with the script position"}
	warnf      = Func{Name: "warnf", Min: 1, Max: 8, Core: true, Doc: "prints a warning with the script position"}
	system     = Func{Name: "system", Min: 1, Max: 8, Unsafe: true, Core: true, Doc: "runs a shell command, formatted as printf"}
	cat        = Func{Name: "cat", Min: 1, Max: 8, Core: true, Doc: "prints a file, its name formatted as printf"}
	printFunc  = Func{Name: "print", Min: 1, Max: 3, Core: true, Doc: "prints a map (its top N, values divided by DIV) or a value"}
	clear      = Func{Name: "clear", Min: 1, Max: 1, Core: true, Doc: "removes every key of a map"}
	zero       = Func{Name: "zero", Min: 1, Max: 1, Core: true, Doc: "sets every value of a map to zero"}
	assert     = Func{Name: "assert", Min: 2, Max: 2, Core: true, Doc: "unless a condition holds, reports an error with a message and exits with code 1"}
	exit       = Func{Name: "exit", Max: 1, Core: true, Doc: "stops tracing: END runs, maps print, ebtrace exits with the code given (0)"}
	join       = Func{Name: "join", Min: 1, Max: 2, Core: true, Doc: "prints a NULL-terminated array of strings, such as argv"}
)

// Maps.
var (
	deleteFunc = Func{Name: "delete", Min: 1, Max: 2, Core: true, Doc: "removes one key of a map, delete(@m, k) or delete(@m[k]): whether it was there"}
	lenFunc    = Func{Name: "len", Min: 1, Max: 1, Core: true, Doc: "the number of keys of a map, or of frames of a stack"}
	hasKey     = Func{Name: "has_key", Min: 2, Max: 2, Core: true, Doc: "whether a map holds a key"}
	find       = Func{Name: "find", Min: 3, Max: 3, Core: true, Doc: "whether a map holds a key, setting a variable to its value when it does: find(@m, key, $v)"}
)

// Strings, buffers and stacks, read into the frame.
var (
	str    = Func{Name: "str", Min: 1, Max: 2, Core: true, Doc: "the NUL-terminated string at an address, or a string cut short"}
	buf    = Func{Name: "buf", Min: 1, Max: 2, Core: true, Doc: "bytes at an address, printed hex-escaped with %r"}
	kstack = Func{Name: "kstack", Max: 2, Core: true, Doc: "the kernel stack, in a mode and to a depth"}
	ustack = Func{Name: "ustack", Max: 2, Core: true, Doc: "the user stack, in a mode and to a depth"}
)
