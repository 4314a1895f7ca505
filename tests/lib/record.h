/* tests/lib/record.h: records the byte streams of a real session (seeds for tests/fuzz). */
#ifndef QGUI_TEST_RECORD_H
#define QGUI_TEST_RECORD_H

#include "qgui/transport.h"

/*
 * With $QGUI_RECORD_DIR set, returns a transport that behaves as t and appends
 * every byte read from it to <dir>/<name>-<pid>-<n>.in and every byte written
 * to <dir>/<name>-<pid>-<n>.out, n counting the connections the process recorded (a server's
 * transport_server_reset starts the next pair). Without it, returns t itself.
 * Takes ownership of t (transport_destroy frees both); NULL when t is NULL.
 */
struct transport *record_wrap(struct transport *t, const char *name);

#endif
