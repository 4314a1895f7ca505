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
