/* grant.c: grant tables, dispatch to the gntemu or Xen back-end and the checks common to both. */
#include <errno.h>
#include <stdlib.h>

#include "grant_impl.h"
#include "qgui/grant.h"
#include "qgui/log.h"

static int domid_ok(int d)
{
	return d >= 0 && d < QGUI_DOMID_LIMIT;
}

struct grant_owner *grant_owner_create(enum qgui_backend backend, int own_domid, int grantee_domid)
{
	if (!domid_ok(own_domid) || !domid_ok(grantee_domid)) {
		log_error("grants: bad domain ids %d -> %d", own_domid, grantee_domid);
		errno = EINVAL;
		return NULL;
	}
	switch (backend_resolve(backend)) {
	case QGUI_BACKEND_SOCKET:
		return gntemu_owner_create(own_domid, grantee_domid);
	case QGUI_BACKEND_XEN:
		return xen_owner_create(own_domid, grantee_domid);
	case QGUI_BACKEND_AUTO:
		break;
	}
	log_error("grants: unknown back-end %d", (int)backend);
	errno = EINVAL;
	return NULL;
}

int grant_owner_share(struct grant_owner *o, size_t npages, struct grant_share **out)
{
	if (o == NULL || out == NULL || npages == 0 || npages > GRANT_MAX_PAGES) {
		return -EINVAL;
	}
	*out = NULL;
	return o->ops->share(o, npages, out);
}

int grant_share_fd(struct grant_owner *o, const struct grant_share *s)
{
	if (o == NULL || s == NULL) {
		errno = EINVAL;
		return -1;
	}
	return o->ops->share_fd(o, s);
}

void grant_owner_unshare(struct grant_owner *o, struct grant_share *s)
{
	if (s == NULL) {
		return;
	}
	INVARIANT(o != NULL);
	o->ops->unshare(o, s);
}

void grant_owner_destroy(struct grant_owner *o)
{
	if (o != NULL) {
		o->ops->destroy(o);
	}
}

struct grant_mapper *grant_mapper_create(enum qgui_backend backend, int own_domid, int owner_domid)
{
	struct grant_mapper *m = NULL;

	if (!domid_ok(own_domid) || !domid_ok(owner_domid)) {
		log_error("grants: bad domain ids %d <- %d", own_domid, owner_domid);
		errno = EINVAL;
		return NULL;
	}
	switch (backend_resolve(backend)) {
	case QGUI_BACKEND_SOCKET:
		m = gntemu_mapper_create(own_domid, owner_domid);
		break;
	case QGUI_BACKEND_XEN:
		m = xen_mapper_create(own_domid, owner_domid);
		break;
	case QGUI_BACKEND_AUTO:
		log_error("grants: unknown back-end %d", (int)backend);
		errno = EINVAL;
		break;
	}
	if (m != NULL) {
		m->live = 0;
		m->busy = false;
		m->deadline_ms = 0;
		m->max_runs = GRANT_MAX_RUNS;
	}
	return m;
}

int grant_mapper_set_limits(struct grant_mapper *m, unsigned deadline_ms, unsigned max_runs)
{
	if (m == NULL || deadline_ms > GRANT_MAX_DEADLINE_MS || max_runs == 0 || max_runs > GRANT_MAX_RUNS) {
		return -EINVAL;
	}
	m->deadline_ms = deadline_ms;
	m->max_runs = max_runs;
	return 0;
}

void grant_mapper_destroy(struct grant_mapper *m)
{
	if (m == NULL) {
		return;
	}
	/* a mapping outliving its mapper would use a closed handle (Xen) */
	INVARIANT(m->live == 0);
	m->ops->destroy(m);
}

int grant_map_start(struct grant_mapper *m, const uint32_t *refs, size_t n, struct grant_map_op **out)
{
	struct grant_map_op *op = NULL;
	int rc;

	if (m == NULL || refs == NULL || out == NULL || n == 0 || n > GRANT_MAX_PAGES) {
		return -EINVAL;
	}
	*out = NULL;
	/* one at a time: the op owns the back-end's connection to the owner */
	INVARIANT(!m->busy);
	if (m->ops->map_start != NULL) {
		rc = m->ops->map_start(m, refs, n, &op);
		if (rc != 0) {
			INVARIANT(rc < 0 && op == NULL);
			return rc;
		}
	} else {
		op = calloc(1, sizeof(*op));
		if (op == NULL) {
			return -ENOMEM;
		}
		op->rc = m->ops->map(m, refs, n, &op->result);
		INVARIANT(op->rc <= 0 && (op->rc == 0) == (op->result != NULL));
	}
	op->mapper = m;
	op->n = n;
	m->busy = true;
	m->live++;
	*out = op;
	return 0;
}

static void op_done(struct grant_mapper *m)
{
	INVARIANT(m->busy && m->live > 0);
	m->busy = false;
	m->live--;
}

int grant_map_step(struct grant_map_op *op, struct grant_mapping **out, struct pollfd *pfd, int *timeout_ms)
{
	struct grant_mapper *m;
	size_t n;
	int rc;

	INVARIANT(op != NULL && out != NULL && pfd != NULL && timeout_ms != NULL);
	m = op->mapper;
	n = op->n;
	*out = NULL;
	if (op->ops == NULL) {
		rc = op->rc;
		*out = op->result;
		free(op);
	} else {
		rc = op->ops->step(op, out, pfd, timeout_ms); /* frees op unless -EINPROGRESS */
		if (rc == -EINPROGRESS) {
			INVARIANT(*out == NULL);
			return rc;
		}
	}
	op_done(m);
	if (rc == 0) {
		INVARIANT(*out != NULL && (*out)->npages == n);
		(*out)->mapper = m;
		m->live++;
	} else {
		INVARIANT(rc < 0 && *out == NULL);
	}
	return rc;
}

void grant_map_cancel(struct grant_map_op *op)
{
	struct grant_mapper *m;

	if (op == NULL) {
		return;
	}
	m = op->mapper;
	if (op->ops == NULL) {
		if (op->result != NULL) {
			op->result->mapper = m; /* counted as a mapping, so that it is destroyed as one */
			m->live++;
			grant_mapping_destroy(op->result);
		}
		free(op);
	} else {
		op->ops->cancel(op);
	}
	op_done(m);
}

int grant_mapper_map(struct grant_mapper *m, const uint32_t *refs, size_t n, struct grant_mapping **out)
{
	struct grant_map_op *op;
	int rc = grant_map_start(m, refs, n, &op);

	if (rc != 0) {
		return rc;
	}
	for (;;) {
		struct pollfd pfd = { .fd = -1 };
		int timeout = -1;

		rc = grant_map_step(op, out, &pfd, &timeout);
		if (rc != -EINPROGRESS) {
			return rc;
		}
		(void)poll(&pfd, 1, timeout); /* EINTR: step again, the deadlines hold */
	}
}

const void *grant_mapping_addr(struct grant_mapping *g)
{
	if (g == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return g->ops->addr(g);
}

size_t grant_mapping_size(const struct grant_mapping *g)
{
	return g != NULL ? g->npages * GRANT_PAGE_SIZE : 0;
}

int grant_mapping_fd(const struct grant_mapping *g, size_t *offset)
{
	if (g == NULL) {
		return -1;
	}
	return g->ops->fd(g, offset);
}

void grant_mapping_destroy(struct grant_mapping *g)
{
	struct grant_mapper *m;

	if (g == NULL) {
		return;
	}
	m = g->mapper;
	INVARIANT(m != NULL && m->live > 0);
	m->live--;
	g->ops->destroy(g);
}
