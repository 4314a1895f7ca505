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
	}
	return m;
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

int grant_mapper_map(struct grant_mapper *m, const uint32_t *refs, size_t n, struct grant_mapping **out)
{
	int rc;

	if (m == NULL || refs == NULL || out == NULL || n == 0 || n > GRANT_MAX_PAGES) {
		return -EINVAL;
	}
	*out = NULL;
	rc = m->ops->map(m, refs, n, out);
	if (rc == 0) {
		INVARIANT(*out != NULL && (*out)->npages == n);
		(*out)->mapper = m;
		m->live++;
	} else {
		INVARIANT(rc < 0 && *out == NULL);
	}
	return rc;
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
