/* qgui/backend.h: choosing between the Xen and the socket/gntemu back-ends, and domain ids. */
#ifndef QGUI_BACKEND_H
#define QGUI_BACKEND_H

#include <stdbool.h>

/*
 * Which implementation carries bytes (vchan) and pages (grant tables).
 * AUTO picks XEN when /dev/xen/gntdev exists and SOCKET otherwise
 * (emulation.md section 4). SOCKET means the socket vchan plus gntemu.
 */
enum qgui_backend {
	QGUI_BACKEND_AUTO = 0,
	QGUI_BACKEND_SOCKET,
	QGUI_BACKEND_XEN,
};

/* Highest valid domain id + 1 (as Xen's DOMID_FIRST_RESERVED). */
#define QGUI_DOMID_LIMIT 0x7ff0

/*
 * Parses "xen", "socket" or "auto" (exact, lower case) into *out.
 * Returns 0, or -EINVAL (and leaves *out alone) for anything else.
 */
int backend_parse(const char *s, enum qgui_backend *out);

/* AUTO becomes XEN or SOCKET as above; the others are returned unchanged. */
enum qgui_backend backend_resolve(enum qgui_backend b);

/* "xen", "socket" or "auto"; never NULL. */
const char *backend_name(enum qgui_backend b);

/*
 * Parses a decimal domain id 0 <= id < QGUI_DOMID_LIMIT: digits only, no sign,
 * no leading zeros (except "0"), no trailing junk. Returns 0, or -EINVAL.
 */
int backend_parse_domid(const char *s, int *out);

/*
 * This process's own domain id from $VCHAN_DOMAIN (default 0 when unset or empty).
 * Returns 0, or -EINVAL when the variable is set but is not a valid domain id.
 */
int backend_own_domid(int *out);

/*
 * Whether name is a valid qube name (the rules of libqubes-pure's
 * qubes_pure_is_valid_qube_name): 1..31 bytes, an ASCII letter first, then
 * ASCII letters, digits, '_', '.' or '-'; not ending in "-dm" (device-model
 * stubdomains); not "none", "default" or "Domain-0". NULL is invalid.
 */
bool backend_valid_qube_name(const char *name);

/* $VCHAN_SOCKET_DIR when set and non-empty, else "/var/run/vchan". Never NULL. */
const char *backend_socket_dir(void);

#endif
