/* grant_xen.c: the Xen grant back-end, libxengntshr (owner) and libxengnttab (grantee). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xengnttab.h>

#include "grant_impl.h"
#include "qgui/log.h"

/* ---------------------------------------------------------------- owner */

struct xen_share {
	struct grant_share pub; /* first: handed out as struct grant_share * */
	struct xen_share *next;
	uint32_t *refs;
};

struct xen_owner {
	struct grant_owner base;
	xengntshr_handle *xgs;
	int own, grantee;
	struct xen_share *shares;
};

static const struct grant_owner_ops xen_owner_ops;

static struct xen_owner *xen_owner_from_base(struct grant_owner *o)
{
	INVARIANT(o->ops == &xen_owner_ops);
	return (struct xen_owner *)o;
}

/* Xen's libraries print nothing when /dev/xen is missing: say it ourselves (rig-facts 4). */
static void log_open_failure(const char *call, const char *dev, int err)
{
	if (err == ENOENT) {
		log_error("xen grants: %s not available (not running under Xen?); use --transport=socket", dev);
	} else {
		log_error("xen grants: %s: %s", call, strerror(err));
	}
}

struct grant_owner *xen_owner_create(int own_domid, int grantee_domid)
{
	struct xen_owner *o = calloc(1, sizeof(*o));
	int e;

	if (o == NULL) {
		return NULL;
	}
	o->xgs = xengntshr_open(NULL, 0);
	if (o->xgs == NULL) {
		e = errno;
		log_open_failure("xengntshr_open", "/dev/xen/gntalloc", e);
		free(o);
		errno = e;
		return NULL;
	}
	o->base.ops = &xen_owner_ops;
	o->own = own_domid;
	o->grantee = grantee_domid;
	return &o->base;
}

static int xen_owner_share(struct grant_owner *base, size_t npages, struct grant_share **out)
{
	struct xen_owner *o = xen_owner_from_base(base);
	struct xen_share *s = calloc(1, sizeof(*s));
	void *addr;
	int e;

	if (s == NULL || (s->refs = calloc(npages, sizeof(uint32_t))) == NULL) {
		free(s);
		return -ENOMEM;
	}
	/* writable = 0: the grantee may only map the pages read-only */
	addr = xengntshr_share_pages(o->xgs, (uint32_t)o->grantee, (int)npages, s->refs, 0);
	if (addr == NULL) {
		e = errno ? errno : ENOMEM;
		log_error("xen grants: sharing %zu pages with dom %d: %s", npages, o->grantee, strerror(e));
		free(s->refs);
		free(s);
		return -e;
	}
	s->pub.addr = addr;
	s->pub.npages = npages;
	s->pub.refs = s->refs;
	s->next = o->shares;
	o->shares = s;
	*out = &s->pub;
	return 0;
}

static void share_free(struct xen_owner *o, struct xen_share *s)
{
	if (xengntshr_unshare(o->xgs, s->pub.addr, (uint32_t)s->pub.npages) != 0) {
		log_error("xen grants: unshare of %zu pages failed: %s", s->pub.npages, strerror(errno));
	}
	free(s->refs);
	free(s);
}

static void xen_owner_unshare(struct grant_owner *base, struct grant_share *pub)
{
	struct xen_owner *o = xen_owner_from_base(base);
	struct xen_share **pp = &o->shares;

	while (*pp != NULL && &(*pp)->pub != pub) {
		pp = &(*pp)->next;
	}
	/* a share of another owner, or one already unshared: a caller bug */
	INVARIANT(*pp != NULL);
	struct xen_share *s = *pp;
	*pp = s->next;
	share_free(o, s);
}

static void xen_owner_destroy(struct grant_owner *base)
{
	struct xen_owner *o = xen_owner_from_base(base);

	while (o->shares != NULL) {
		struct xen_share *s = o->shares;

		o->shares = s->next;
		share_free(o, s);
	}
	xengntshr_close(o->xgs);
	free(o);
}

static int xen_owner_share_fd(struct grant_owner *base, const struct grant_share *s)
{
	(void)xen_owner_from_base(base);
	(void)s;
	errno = ENOTSUP; /* gntalloc pages have no fd an X server could attach */
	return -1;
}

static const struct grant_owner_ops xen_owner_ops = {
	.share = xen_owner_share,
	.unshare = xen_owner_unshare,
	.destroy = xen_owner_destroy,
	.share_fd = xen_owner_share_fd,
};

/* ---------------------------------------------------------------- grantee */

struct xen_mapper {
	struct grant_mapper base;
	xengnttab_handle *xgt;
	int own, owner;
};

struct xen_mapping {
	struct grant_mapping base;
	xengnttab_handle *xgt; /* the mapper's: mappings are destroyed before it */
	void *addr;
};

static const struct grant_mapper_ops xen_mapper_ops;
static const struct grant_mapping_ops xen_mapping_ops;

static struct xen_mapper *xen_mapper_from_base(struct grant_mapper *m)
{
	INVARIANT(m->ops == &xen_mapper_ops);
	return (struct xen_mapper *)m;
}

static struct xen_mapping *xen_mapping_from_base(const struct grant_mapping *g)
{
	INVARIANT(g->ops == &xen_mapping_ops);
	return (struct xen_mapping *)(uintptr_t)g;
}

struct grant_mapper *xen_mapper_create(int own_domid, int owner_domid)
{
	struct xen_mapper *m = calloc(1, sizeof(*m));
	int e;

	if (m == NULL) {
		return NULL;
	}
	m->xgt = xengnttab_open(NULL, 0);
	if (m->xgt == NULL) {
		e = errno;
		log_open_failure("xengnttab_open", "/dev/xen/gntdev", e);
		free(m);
		errno = e;
		return NULL;
	}
	/* older gntdev drivers cap a handle at 1024 grants unless told otherwise; newer ones ignore it */
	if (xengnttab_set_max_grants(m->xgt, GRANT_MAX_PAGES) != 0) {
		log_debug("xen grants: xengnttab_set_max_grants: %s", strerror(errno));
	}
	m->base.ops = &xen_mapper_ops;
	m->own = own_domid;
	m->owner = owner_domid;
	return &m->base;
}

static int xen_mapper_map(struct grant_mapper *base, const uint32_t *refs, size_t n, struct grant_mapping **out)
{
	struct xen_mapper *m = xen_mapper_from_base(base);
	struct xen_mapping *g = calloc(1, sizeof(*g));
	uint32_t *copy = malloc(n * sizeof(uint32_t));
	void *addr;
	int e;

	if (g == NULL || copy == NULL) {
		free(g);
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, refs, n * sizeof(uint32_t)); /* the API takes a non-const array */
	/* read-only: the owner's pages are hostile and live; we never write them */
	addr = xengnttab_map_domain_grant_refs(m->xgt, (uint32_t)n, (uint32_t)m->owner, copy, PROT_READ);
	e = errno;
	free(copy);
	if (addr == NULL) {
		free(g);
		if (e == ENOMEM || e == EMFILE || e == ENFILE || e == ENOSPC) {
			log_error("xen grants: cannot map %zu refs of dom %d: %s", n, m->owner, strerror(e));
			return -e;
		}
		/* a ref the owner did not grant, or one it revoked: the owner's violation */
		log_error("xen grants: dom %d: mapping %zu refs (first %u) failed: %s", m->owner, n, refs[0],
				strerror(e));
		return -EPROTO;
	}
	g->base.ops = &xen_mapping_ops;
	g->base.npages = n;
	g->xgt = m->xgt;
	g->addr = addr;
	*out = &g->base;
	return 0;
}

static void xen_mapper_destroy(struct grant_mapper *base)
{
	struct xen_mapper *m = xen_mapper_from_base(base);

	xengnttab_close(m->xgt);
	free(m);
}

static const void *xen_mapping_addr(struct grant_mapping *base)
{
	return xen_mapping_from_base(base)->addr;
}

static int xen_mapping_fd(const struct grant_mapping *base, size_t *offset)
{
	(void)xen_mapping_from_base(base);
	if (offset != NULL) {
		*offset = 0;
	}
	return -1;
}

static void xen_mapping_destroy(struct grant_mapping *base)
{
	struct xen_mapping *g = xen_mapping_from_base(base);

	if (xengnttab_unmap(g->xgt, g->addr, (uint32_t)g->base.npages) != 0) {
		log_error("xen grants: unmap of %zu pages failed: %s", g->base.npages, strerror(errno));
	}
	free(g);
}

static const struct grant_mapper_ops xen_mapper_ops = {
	.map = xen_mapper_map,
	.destroy = xen_mapper_destroy,
};

static const struct grant_mapping_ops xen_mapping_ops = {
	.addr = xen_mapping_addr,
	.fd = xen_mapping_fd,
	.destroy = xen_mapping_destroy,
};
