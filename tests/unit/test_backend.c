/* test_backend.c: back-end names, domain ids and the environment. */
#include <errno.h>
#include <stdlib.h>

#include "qgui/backend.h"
#include "qgui/log.h"
#include "test.h"

static void parse_names(void)
{
	enum qgui_backend b = QGUI_BACKEND_AUTO;

	T_EQ(backend_parse("xen", &b), 0);
	T_EQ(b, QGUI_BACKEND_XEN);
	T_EQ(backend_parse("socket", &b), 0);
	T_EQ(b, QGUI_BACKEND_SOCKET);
	T_EQ(backend_parse("auto", &b), 0);
	T_EQ(b, QGUI_BACKEND_AUTO);
	T_EQ(backend_parse("Xen", &b), -EINVAL);
	T_EQ(backend_parse("", &b), -EINVAL);
	T_EQ(backend_parse(NULL, &b), -EINVAL);
	T_STR(backend_name(QGUI_BACKEND_SOCKET), "socket");
	T_STR(backend_name(QGUI_BACKEND_XEN), "xen");
	/* no /dev/xen on these machines: auto means the socket stand-ins */
	T_EQ(backend_resolve(QGUI_BACKEND_AUTO), QGUI_BACKEND_SOCKET);
	T_EQ(backend_resolve(QGUI_BACKEND_XEN), QGUI_BACKEND_XEN);
}

static void domids(void)
{
	static const char *bad[] = { "", "-1", "+1", "01", "1x", " 1", "32752", "99999", "123456", "0x10" };
	int d = -5;

	T_EQ(backend_parse_domid("0", &d), 0);
	T_EQ(d, 0);
	T_EQ(backend_parse_domid("32751", &d), 0);
	T_EQ(d, 32751);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = 7;
		T_EQ(backend_parse_domid(bad[i], &d), -EINVAL);
		T_EQ(d, 7);
	}
}

static void environment(void)
{
	int d = -1;

	unsetenv("VCHAN_DOMAIN");
	T_EQ(backend_own_domid(&d), 0);
	T_EQ(d, 0);
	setenv("VCHAN_DOMAIN", "3", 1);
	T_EQ(backend_own_domid(&d), 0);
	T_EQ(d, 3);
	setenv("VCHAN_DOMAIN", "three", 1);
	T_EQ(backend_own_domid(&d), -EINVAL);
	unsetenv("VCHAN_SOCKET_DIR");
	T_STR(backend_socket_dir(), "/var/run/vchan");
	setenv("VCHAN_SOCKET_DIR", "/tmp/x", 1);
	T_STR(backend_socket_dir(), "/tmp/x");
}

static void qube_names(void)
{
	static const char *good[] = { "a", "sys-gui", "work_2.x", "A-dm2", "dm", "x-d", "abcdefghijklmnopqrstuvwxyz01234" };
	static const char *bad[] = { "", "1work", "-a", "_a", ".a", "a b", "a/b", "w\xc3\xa9", "work-dm", "none",
		"default", "Domain-0", "abcdefghijklmnopqrstuvwxyz012345", "a\n" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		T_ASSERT(backend_valid_qube_name(good[i]));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (backend_valid_qube_name(bad[i])) {
			test_fail(__FILE__, __LINE__, "\"%s\" accepted", bad[i]);
		}
	}
	T_ASSERT(!backend_valid_qube_name(NULL));
}

static void sanitize(void)
{
	char out[8];

	T_STR(log_sanitize(out, sizeof(out), "a\nb\x1b[1m", 7), "a?b?[1m");
	T_STR(log_sanitize(out, sizeof(out), "abcdefghijk", 11), "abcdefg");
	T_STR(log_sanitize(out, sizeof(out), "ab\0cd", 5), "ab");
	T_STR(log_sanitize(out, sizeof(out), "\xc3\xa9", 2), "??");
}

TEST_MAIN(TEST(parse_names), TEST(domids), TEST(environment), TEST(qube_names),
		TEST(sanitize))
