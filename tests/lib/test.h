/* tests/lib/test.h: a tiny test harness. Each case prints "ok - name" or "not ok - name". */
#ifndef QGUI_TEST_H
#define QGUI_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* Records a failure of the current case with a printf-style reason. */
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Runs the cases named on the command line, or all of them. Returns the exit status. */
int test_main(int argc, char **argv, const struct test_case *cases, size_t ncases);

/*
 * The same for a table of cases of the caller's own type: case i is called
 * name(i, arg) and run as fn(i, arg). For table-driven suites.
 */
int test_main_indexed(int argc, char **argv, size_t ncases, const char *(*name)(size_t i, void *arg),
		void (*fn)(size_t i, void *arg), void *arg);

/* A fresh private directory for this process (removed with its contents at exit). */
const char *test_tmpdir(void);

/* The monotonic clock in milliseconds (for deadlines and elapsed times; 0 is arbitrary). */
int64_t test_now_ms(void);

/* Sleeps ms milliseconds (resumed after signals). For polling loops with a deadline, never as synchronisation. */
void test_sleep_ms(int ms);

#define TEST_MAIN(...) \
	int main(int argc, char **argv) \
	{ \
		static const struct test_case cases_[] = { __VA_ARGS__ }; \
		return test_main(argc, argv, cases_, sizeof(cases_) / sizeof(cases_[0])); \
	}
#define TEST(fn) { #fn, fn }

/* Each assertion ends the current case (return) when it fails. */
#define T_ASSERT(c) \
	do { \
		if (!(c)) { \
			test_fail(__FILE__, __LINE__, "assertion failed: %s", #c); \
			return; \
		} \
	} while (0)

#define T_EQ(a, b) \
	do { \
		long long a_ = (long long)(a), b_ = (long long)(b); \
		if (a_ != b_) { \
			test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, b_); \
			return; \
		} \
	} while (0)

#define T_EQ_U(a, b) \
	do { \
		unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
		if (a_ != b_) { \
			test_fail(__FILE__, __LINE__, "%s == 0x%llx, expected %s == 0x%llx", #a, a_, #b, b_); \
			return; \
		} \
	} while (0)

#define T_STR(a, b) \
	do { \
		const char *a_ = (a), *b_ = (b); \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) { \
			test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", \
					b_ ? b_ : "(null)"); \
			return; \
		} \
	} while (0)

#define T_MEM(a, b, n) \
	do { \
		if (memcmp((a), (b), (n)) != 0) { \
			test_fail(__FILE__, __LINE__, "%s differs from %s in its first %zu bytes", #a, #b, (size_t)(n)); \
			return; \
		} \
	} while (0)

/* True while the current case has not failed (for helpers that cannot return early). */
int test_ok(void);

#endif
