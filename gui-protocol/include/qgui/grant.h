/* qgui/grant.h: grant tables. Owners share pages with one grantee; grantees map them read-only. */
#ifndef QGUI_GRANT_H
#define QGUI_GRANT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "qgui/backend.h"

#define GRANT_PAGE_SIZE 4096u
/* The most pages one share or one mapping may have (= MAX_GRANT_REFS_COUNT). */
#define GRANT_MAX_PAGES 98304u
/* gntemu: the most LOOKUPs (runs) one mapping may take, and the longest deadline grant_mapper_set_limits takes. */
#define GRANT_MAX_RUNS 4096u
#define GRANT_MAX_DEADLINE_MS 3600000u

/* ---------------------------------------------------------------- owner role (agents) */

struct grant_owner; /* opaque */

/* One share: npages pages the owner may write at any time, granted read-only. */
struct grant_share {
	void *addr;           /* writable mapping of npages * GRANT_PAGE_SIZE bytes */
	size_t npages;
	const uint32_t *refs; /* npages references; refs[i] names page i */
};

/*
 * Creates an owner: domain own_domid grants pages to grantee_domid.
 *   SOCKET (gntemu, emulation.md 3): one sealed memfd per share; LOOKUP is
 *     answered on $VCHAN_SOCKET_DIR/gntshr.<own>.<grantee>.sock by a helper
 *     thread, bound before the first reference is handed out.
 *   XEN: xengntshr_open / xengntshr_share_pages.
 * Returns NULL with errno set and one log line on failure (Xen without
 * /dev/xen says so).
 */
struct grant_owner *grant_owner_create(enum qgui_backend backend, int own_domid, int grantee_domid);

/*
 * Shares npages (1..GRANT_MAX_PAGES) new zero-filled pages, read-only for the
 * grantee. Returns 0 and *out (freed by grant_owner_unshare), or -errno
 * (EINVAL for a bad npages, EADDRINUSE when another live process of this
 * domain already serves this grantee's socket).
 */
int grant_owner_share(struct grant_owner *o, size_t npages, struct grant_share **out);

/*
 * Revokes a share and frees it: afterwards LOOKUP of its references answers
 * -ENOENT (mappings the grantee already made keep their pages). Accepts NULL.
 */
void grant_owner_unshare(struct grant_owner *o, struct grant_share *s);

/*
 * A new read-write fd of the memory behind share s, for handing to an X
 * server (MIT-SHM AttachFd), so that it can write a frame straight into the
 * share. The caller closes it. gntemu only: -1 with errno ENOTSUP on Xen,
 * whose shared pages an X server cannot attach.
 */
int grant_share_fd(struct grant_owner *o, const struct grant_share *s);

/* Unshares everything, stops serving and unlinks the socket. Accepts NULL. */
void grant_owner_destroy(struct grant_owner *o);

/* ---------------------------------------------------------------- grantee role (daemons) */

struct grant_mapper;  /* opaque: one per owner domain */
struct grant_mapping; /* opaque: one mapped list of references */

/*
 * Creates a mapper through which domain own_domid maps pages granted by
 * owner_domid. Returns NULL with errno set and one log line on failure.
 */
struct grant_mapper *grant_mapper_create(enum qgui_backend backend, int own_domid, int owner_domid);

/* Accepts NULL. Mappings made through it, and a map in flight, must be destroyed (cancelled) first. */
void grant_mapper_destroy(struct grant_mapper *m);

/*
 * Limits of every later map through m, for gntemu (the Xen back-end maps in
 * one call that never waits on the owner, and ignores them):
 *   deadline_ms: the whole map, every LOOKUP of it together, must be complete
 *     within deadline_ms of grant_map_start; 0 (the default): no deadline
 *     but each LOOKUP's own 5 s (emulation.md 3.3). At most GRANT_MAX_DEADLINE_MS.
 *   max_runs: 1..GRANT_MAX_RUNS (the default) LOOKUPs in one map; an owner
 *     whose runs are more is in violation.
 * Missing either is the owner's violation (-EPROTO, one log line). Returns 0,
 * or -EINVAL (m NULL, a value out of range).
 */
int grant_mapper_set_limits(struct grant_mapper *m, unsigned deadline_ms, unsigned max_runs);

/*
 * Maps the n references refs[0..n-1] (1 <= n <= GRANT_MAX_PAGES), in order,
 * read-only, waiting for the owner (grant_map_start and grant_map_step in a
 * poll loop; use those where the caller's own loop must go on meanwhile).
 * The owner is untrusted: for gntemu every check of emulation.md 3.3 (v1.1)
 * is made (each LOOKUP's reply complete within 5 s of its request, and the
 * whole call within the mapper's deadline and run cap, grant_mapper_set_limits:
 * without a deadline a call of k runs can take k times 5 s; status, flags,
 * exactly one fd, ref inside its run, a memfd sealed with F_SEAL_SHRINK and
 * F_SEAL_GROW, st_blksize 4096, size covering the run and at most 4 GiB).
 * References are looked up afresh on
 * every call; one reply serves every ref of its run within the call.
 * Returns 0 and *out (caller frees with grant_mapping_destroy), -EPROTO when
 * the owner broke the protocol (one log line says how; the caller ends that
 * owner's session), or another -errno on a local failure.
 */
int grant_mapper_map(struct grant_mapper *m, const uint32_t *refs, size_t n, struct grant_mapping **out);

struct grant_map_op; /* opaque: a map in flight */

/*
 * Starts mapping refs[0..n-1] as grant_mapper_map would, without waiting:
 * nothing is sent before the first grant_map_step. refs is copied. One op
 * per mapper at a time. Returns 0 and *out (finish it with grant_map_step
 * until that returns something else than -EINPROGRESS, or grant_map_cancel),
 * or -EINVAL / -ENOMEM.
 */
int grant_map_start(struct grant_mapper *m, const uint32_t *refs, size_t n, struct grant_map_op **out);

/*
 * Does every part of the map that does not block. -EINPROGRESS: the owner
 * has not answered yet; wait until pfd (fd, events; fd -1: none) is ready or
 * *timeout_ms (>= 0) has passed, then call again. Anything else ends the op
 * and frees it: the results of grant_mapper_map (0 with *out, -EPROTO after
 * one log line, e.g. a LOOKUP past 5 s or the map past the mapper's
 * deadline, or another -errno).
 */
int grant_map_step(struct grant_map_op *op, struct grant_mapping **out, struct pollfd *pfd, int *timeout_ms);

/* Abandons a map in flight and frees it (a LOOKUP in flight costs the kept connection). Accepts NULL. */
void grant_map_cancel(struct grant_map_op *op);

/*
 * A read-only view of all n pages in reference order (n * GRANT_PAGE_SIZE
 * bytes). Contents are live and hostile: copy them, never parse them. Mapped
 * on the first call; NULL (errno set) if that fails. Owned by the mapping.
 */
const void *grant_mapping_addr(struct grant_mapping *g);

/* n * GRANT_PAGE_SIZE. */
size_t grant_mapping_size(const struct grant_mapping *g);

/*
 * The fd for zero copy, or -1: the caller then copies from grant_mapping_addr.
 * MIT-SHM AttachFd makes the X server map the whole file, and that X server is
 * shared by every VM, so the fd is returned only when it holds exactly the
 * pages of this mapping and nothing else (emulation.md 3.3, v1.1): gntemu,
 * the n references are pages 0..n-1 of one memfd, in order, and the memfd's
 * size (fixed by its seals) is exactly n * GRANT_PAGE_SIZE. Pages of the
 * memfd before the first or after the last one used (pgoff > 0, a memfd
 * larger than the mapping, a table of many shares) give -1, as do Xen and
 * scattered pages. So one VM can never make the X server map more than the
 * pages it granted for this mapping, which is at most GRANT_MAX_PAGES.
 * *offset (if not NULL) is set to the byte offset of the first page in the
 * fd: always 0 when an fd is returned. Hand the X server a dup (the X call
 * takes ownership of its fd); the fd stays owned by the mapping.
 */
int grant_mapping_fd(const struct grant_mapping *g, size_t *offset);

/* Unmaps and frees. Accepts NULL. */
void grant_mapping_destroy(struct grant_mapping *g);

#endif
