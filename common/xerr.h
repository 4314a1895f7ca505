/* xerr.h: the X error handlers every program installs: log and count protocol errors, exit on a lost connection. */
#ifndef XERR_H
#define XERR_H

/*
 * Installs Xlib's error handlers for the whole process (every connection):
 * a protocol error (a window another client destroyed, a request the server
 * refused) is counted and logged at debug level with its code, text, request
 * and resource, and never ends the program (Xlib's default handler exits);
 * a lost connection logs one line, runs the hook set by xerr_on_io_error()
 * and exits with status 1 (exit(), so atexit handlers run). Call after
 * log_init(); calling it again is harmless.
 */
void xerr_install(void);

/*
 * Protocol errors seen so far by the handler, in every connection. Read it
 * before and after a request (with an XSync in between) to learn whether
 * that request failed.
 */
unsigned long xerr_count(void);

/*
 * Sets fn(arg) to run when the X connection is lost, after the log line and
 * before exit(1), e.g. to remove sockets; fn must not return to Xlib (it may
 * return to the handler, which then exits). NULL removes it. One hook at a
 * time: a later call replaces it. arg stays owned by the caller, who must
 * remove the hook before freeing it.
 */
void xerr_on_io_error(void (*fn)(void *arg), void *arg);

#endif
