/* clipboard.h: the global secure clipboard files (qubes-clipboard.bin, .source, .xevent, .metadata). */
#ifndef GD_CLIPBOARD_H
#define GD_CLIPBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the files live and who we are. */
struct clip_ctx {
	const char *dir;          /* e.g. /var/run/qubes */
	const char *vmname;       /* this daemon's VM */
	uint32_t version_daemon;  /* protocol versions for the metadata */
	uint32_t version_agent;
	uint32_t buffer_size;     /* the configured limit */
	bool qrexec;              /* -Q */
	const char *policy_cmd;   /* run as "cmd SOURCE TARGET" (source: a qube name, or refused); exit 0 within
	                           * 5 s allows; NULL or "": dom0's policy (policy.EvalGUI) decides in a GUI
	                           * qube, every paste is allowed in dom0 (/etc/qubes-release) */
};

enum clip_result {
	CLIP_STORED = 0,  /* copy: written to the global clipboard */
	CLIP_CLEARED,     /* copy: empty or oversized data cleared the global clipboard */
	CLIP_STALE,       /* the global clipboard holds a newer copy than this request: nothing done */
	CLIP_DENIED,      /* paste: the policy refused */
	CLIP_EMPTY,       /* paste: nothing to paste */
	CLIP_ERROR,       /* files could not be read or written (logged) */
};

/*
 * A copy from the VM that the user asked for with the secure copy sequence at
 * X time req_time: stores len bytes (or clears when oversized or empty),
 * unless a newer copy (by X timestamp, modulo 2^32) is already there.
 * Everything under the lock file <dir>/appviewer.lock.
 */
enum clip_result clipboard_copy(const struct clip_ctx *c, uint32_t req_time, const uint8_t *data, size_t len,
		bool oversized);

/*
 * A paste into the VM at X time t: reads the global clipboard (at most
 * buffer_size bytes) unless it is newer than t, asks the policy (source ->
 * this VM), and on CLIP_STORED returns the bytes in *data (caller frees) and
 * empties the global clipboard (one paste per copy).
 */
enum clip_result clipboard_paste(const struct clip_ctx *c, uint32_t t, uint8_t **data, size_t *len);

/*
 * -Q (qrexec clipboard, as qubes-guid): the copy runs `qrexec-client-vm VM
 * qubes.ClipboardCopy` (found on PATH) and stores its output like a copy from
 * the agent (at most buffer_size bytes; more clears the clipboard); the paste
 * hands the bytes clipboard_paste() returned to `qrexec-client-vm VM
 * qubes.ClipboardPaste` on its standard input. Each waits at most 5 s for the
 * service (then kills it). CLIP_STORED/CLIP_CLEARED/CLIP_STALE as
 * clipboard_copy, or CLIP_ERROR (logged).
 */
enum clip_result clipboard_qrexec_copy(const struct clip_ctx *c, uint32_t req_time);
enum clip_result clipboard_qrexec_paste(const struct clip_ctx *c, const uint8_t *data, size_t len);

/*
 * Forks the clipboard helper, to be called before the daemon's seccomp
 * filter (which allows neither opening files nor running programs). From
 * then on the four calls above are requests to the helper, which keeps its
 * own copy of c's dir, vmname, buffer_size, qrexec and policy_cmd (what a
 * later call passes in those fields is ignored): the command it runs and
 * its arguments are fixed now, whatever a compromised daemon asks. The
 * helper runs under its own filter (files, fork and exec), runs each command
 * for at most 5 s (then kills its process group: a refusal), and exits when
 * the daemon goes away. A helper that does not answer within 12 s turns the
 * clipboard off (CLIP_ERROR). Returns 0, or -1 (logged).
 * Without this call (tests of this module) the calls do the work themselves.
 */
int clipboard_helper_start(const struct clip_ctx *c);

#endif
