/* backend.c: choice of the Xen or socket back-end, domain ids from the environment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qgui/backend.h"

int backend_parse(const char *s, enum qgui_backend *out)
{
	if (s == NULL) {
		return -EINVAL;
	}
	if (strcmp(s, "xen") == 0) {
		*out = QGUI_BACKEND_XEN;
	} else if (strcmp(s, "socket") == 0) {
		*out = QGUI_BACKEND_SOCKET;
	} else if (strcmp(s, "auto") == 0) {
		*out = QGUI_BACKEND_AUTO;
	} else {
		return -EINVAL;
	}
	return 0;
}

enum qgui_backend backend_resolve(enum qgui_backend b)
{
	if (b != QGUI_BACKEND_AUTO) {
		return b;
	}
	return access("/dev/xen/gntdev", F_OK) == 0 ? QGUI_BACKEND_XEN : QGUI_BACKEND_SOCKET;
}

const char *backend_name(enum qgui_backend b)
{
	switch (b) {
	case QGUI_BACKEND_XEN:
		return "xen";
	case QGUI_BACKEND_SOCKET:
		return "socket";
	case QGUI_BACKEND_AUTO:
		break;
	}
	return "auto";
}

int backend_parse_domid(const char *s, int *out)
{
	long v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 5 || (s[0] == '0' && s[1] != '\0')) {
		return -EINVAL;
	}
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9') {
			return -EINVAL;
		}
		v = v * 10 + (*p - '0');
	}
	if (v >= QGUI_DOMID_LIMIT) {
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

int backend_own_domid(int *out)
{
	const char *v = getenv("VCHAN_DOMAIN");

	if (v == NULL || *v == '\0') {
		*out = 0;
		return 0;
	}
	return backend_parse_domid(v, out);
}

const char *backend_socket_dir(void)
{
	const char *d = getenv("VCHAN_SOCKET_DIR");

	return (d != NULL && *d != '\0') ? d : "/var/run/vchan";
}

static bool ascii_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool backend_valid_qube_name(const char *name)
{
	size_t len;

	if (name == NULL) {
		return false;
	}
	len = strnlen(name, 32);
	if (len < 1 || len > 31 || !ascii_letter(name[0])) {
		return false;
	}
	for (size_t i = 1; i < len; i++) {
		char c = name[i];

		if (!ascii_letter(c) && !(c >= '0' && c <= '9') && c != '_' && c != '.' && c != '-') {
			return false;
		}
	}
	if (len >= 3 && strcmp(name + len - 3, "-dm") == 0) {
		return false;
	}
	return strcmp(name, "none") != 0 && strcmp(name, "default") != 0 && strcmp(name, "Domain-0") != 0;
}
