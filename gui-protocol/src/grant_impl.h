/* grant_impl.h: private interface between grant.c (dispatch) and the grant back-ends (gntemu, Xen). */
#ifndef QGUI_GRANT_IMPL_H
#define QGUI_GRANT_IMPL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qgui/grant.h"

/*
 * Every back-end object starts with its base, and every base starts with a
 * const ops pointer (wlroots style). A back-end downcasts only after checking
 * that the ops pointer is its own (INVARIANT), so an object of one back-end
 * handed to another aborts instead of being misread.
 */

struct grant_owner_ops {
	/* npages is already checked (1..GRANT_MAX_PAGES); same contract as grant_owner_share. */
	int (*share)(struct grant_owner *o, size_t npages, struct grant_share **out);
	/* s is not NULL. */
	void (*unshare)(struct grant_owner *o, struct grant_share *s);
	/* o is not NULL; frees o. */
	void (*destroy)(struct grant_owner *o);
	/* s is not NULL; same contract as grant_share_fd. */
	int (*share_fd)(struct grant_owner *o, const struct grant_share *s);
};

struct grant_owner {
	const struct grant_owner_ops *ops;
};

struct grant_mapper_ops {
	/*
	 * One of the two. map: the whole mapping at once, never waiting on the
	 * owner (Xen: one ioctl); same contract as grant_mapper_map. map_start:
	 * same contract as grant_map_start, the op stepped by its own ops.
	 * refs and n are already checked.
	 */
	int (*map)(struct grant_mapper *m, const uint32_t *refs, size_t n, struct grant_mapping **out);
	int (*map_start)(struct grant_mapper *m, const uint32_t *refs, size_t n, struct grant_map_op **out);
	/* m is not NULL and has no live mappings; frees m. */
	void (*destroy)(struct grant_mapper *m);
};

struct grant_mapper {
	const struct grant_mapper_ops *ops;
	size_t live;          /* mappings not destroyed yet, and the op in flight; grant.c keeps the count */
	bool busy;            /* an op is in flight (one at a time: it owns the back-end's connection) */
	unsigned deadline_ms; /* grant_mapper_set_limits; 0: none */
	unsigned max_runs;    /* 1..GRANT_MAX_RUNS */
};

struct grant_map_op_ops {
	/* same contract as grant_map_step, but frees op only when it returns something else than -EINPROGRESS */
	int (*step)(struct grant_map_op *op, struct grant_mapping **out, struct pollfd *pfd, int *timeout_ms);
	/* frees op */
	void (*cancel)(struct grant_map_op *op);
};

/* A map in flight. ops NULL: complete from the start (rc, result), as the Xen back-end's. */
struct grant_map_op {
	const struct grant_map_op_ops *ops;
	struct grant_mapper *mapper; /* set by grant.c */
	size_t n;                    /* set by grant.c */
	int rc;
	struct grant_mapping *result;
};

struct grant_mapping_ops {
	const void *(*addr)(struct grant_mapping *g);
	int (*fd)(const struct grant_mapping *g, size_t *offset);
	/* g is not NULL; unmaps and frees g. */
	void (*destroy)(struct grant_mapping *g);
};

struct grant_mapping {
	const struct grant_mapping_ops *ops;
	struct grant_mapper *mapper; /* set by grant.c */
	size_t npages;               /* set by the back-end */
};

/* Back-end constructors: domids are already checked; NULL with errno set and one log line. */
struct grant_owner *gntemu_owner_create(int own_domid, int grantee_domid);
struct grant_mapper *gntemu_mapper_create(int own_domid, int owner_domid);
struct grant_owner *xen_owner_create(int own_domid, int grantee_domid);
struct grant_mapper *xen_mapper_create(int own_domid, int owner_domid);

#endif
