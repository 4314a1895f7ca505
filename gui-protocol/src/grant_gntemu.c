/* grant_gntemu.c: emulated grant tables (emulation.md 3): sealed memfds, LOOKUP over gntshr.<O>.<G>.sock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gntemu.h"
#include "grant_impl.h"
#include "qgui/backend.h"
#include "qgui/log.h"

/* byte offsets and page indexes below are computed in 64 bits and passed as off_t / size_t */
_Static_assert(sizeof(off_t) >= 8 && sizeof(size_t) >= 8, "gntemu needs a 64-bit host");

#define PAGE GRANT_PAGE_SIZE
#define REF_FIRST 8u          /* as on Xen, the first 8 refs are never handed out */
#define REF_END 0xfffffff0u   /* owner: refs stay below this, so first + count never wraps */
#define OWNER_MAX_CONNS 16    /* owner: connections from the grantee at once; more are closed */
#define OWNER_REQS_PER_WAKE 64 /* owner: requests answered per connection per wakeup (fairness) */
#define MAPPER_MAX_FDS 64u    /* grantee: distinct memfds in one map call */
#define RECV_MAX_FDS 4        /* grantee: fds one recvmsg can take; more is MSG_CTRUNC */
#define FD_MAX_SIZE (1ull << 32) /* grantee: the largest memfd accepted (emulation.md 3.3, v1.1) */
#define LOOKUP_TIMEOUT_MS 5000  /* grantee: each LOOKUP's reply (emulation.md 3.3) */

#define STATUS_OK 0u
#define STATUS_ENOENT ((uint32_t)-ENOENT)
#define STATUS_EINVAL ((uint32_t)-EINVAL)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int sock_path(char *dst, size_t len, int owner, int grantee)
{
	int n = snprintf(dst, len, "%s/gntshr.%d.%d.sock", backend_socket_dir(), owner, grantee);

	if (n < 0 || (size_t)n >= len) {
		log_error("gntemu: socket path under %s is too long", backend_socket_dir());
		return -ENAMETOOLONG;
	}
	return 0;
}

/* ---------------------------------------------------------------- reply parser and fd checks (pure) */

int gntemu_parse_reply_why(const uint8_t *buf, size_t len, int nfds, uint32_t ref, struct gntemu_run *out,
		const char **why)
{
	uint32_t untrusted_status, untrusted_first, untrusted_count, untrusted_pgoff, untrusted_flags;
	const char *bad = NULL;

	memset(out, 0, sizeof(*out));
	/* the reply is fixed-size: a short one is a truncation, a long one cannot be told from the next reply */
	if (buf == NULL || len != GNTEMU_REPLY_LEN) {
		bad = "the reply is not exactly 20 bytes";
		goto fail;
	}
	/* MSG_CTRUNC or foreign control data: fds may have been dropped, so the count is unknown */
	if (nfds < 0) {
		bad = "truncated or foreign control data";
		goto fail;
	}
	untrusted_status = le32(buf);
	untrusted_first = le32(buf + 4);
	untrusted_count = le32(buf + 8);
	untrusted_pgoff = le32(buf + 12);
	untrusted_flags = le32(buf + 16);

	if (untrusted_status == STATUS_ENOENT || untrusted_status == STATUS_EINVAL) {
		/* an error carries nothing: an fd or a run with it is a confused or lying owner */
		if (nfds != 0) {
			bad = "an fd came with a non-zero status";
		} else if ((untrusted_first | untrusted_count | untrusted_pgoff | untrusted_flags) != 0) {
			bad = "a non-zero status with non-zero first, count, pgoff or flags";
		} else if (untrusted_status == STATUS_EINVAL) {
			bad = "-EINVAL (bad op) to a well-formed LOOKUP";
		} else {
			return -ENOENT;
		}
		goto fail;
	}
	if (untrusted_status != STATUS_OK) {
		bad = "a status other than 0, -ENOENT or -EINVAL";
	} else if (nfds != 1) {
		bad = nfds == 0 ? "status 0 without an fd" : "more than one fd";
	} else if (untrusted_flags != 0) {
		bad = "reserved flags are not 0";
	} else if (untrusted_count == 0 || untrusted_count - 1 > UINT32_MAX - untrusted_first) {
		/* a run that wraps past 2^32 would let ref - first land inside it for a ref below first */
		bad = "the run [first, first + count) is empty or passes 2^32";
	} else if (ref < untrusted_first || ref - untrusted_first >= untrusted_count) {
		/* without this the owner could answer for ref A with the pages of ref B */
		bad = "ref is outside [first, first + count)";
	}
	if (bad != NULL) {
		goto fail;
	}
	out->first = untrusted_first;
	out->count = untrusted_count;
	out->pgoff = untrusted_pgoff; /* range-checked against the fd's size by gntemu_check_fd */
	return 0;
fail:
	if (why != NULL) {
		*why = bad;
	}
	return -EPROTO;
}

int gntemu_parse_reply(const uint8_t *buf, size_t len, int nfds, uint32_t ref, struct gntemu_run *out)
{
	return gntemu_parse_reply_why(buf, len, nfds, ref, out, NULL);
}

/* gntemu_check_fd_why, also returning the fstat taken after the seals were checked */
static int check_fd(int fd, uint32_t pgoff, uint32_t count, const char **why, struct stat *st)
{
	const char *bad = NULL;
	uint64_t need;
	int seals;

	/*
	 * Seals first, size after: F_SEAL_SHRINK and F_SEAL_GROW can never be
	 * removed, so a size read after we saw both is the file's size for good.
	 * (The other order lets the owner resize between fstat and F_GET_SEALS,
	 * then seal.) F_GET_SEALS fails on pipes, sockets and files on disk (a
	 * FUSE file could even hang us on a page fault).
	 */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) {
		bad = "the fd is not a memfd (F_GET_SEALS fails: pipe, socket or file on disk)";
	} else if ((seals & F_SEAL_SHRINK) == 0) {
		/* also refuses /dev/shm and other tmpfs files, which start with F_SEAL_SEAL and no SHRINK */
		bad = "the memfd is not sealed with F_SEAL_SHRINK (it could shrink under our mapping: SIGBUS)";
	} else if ((seals & F_SEAL_GROW) == 0) {
		/* v1.1: a file that can grow after the checks could be made terabytes long for whoever maps it whole */
		bad = "the memfd is not sealed with F_SEAL_GROW (it could grow after the checks)";
	} else if (fstat(fd, st) != 0) {
		bad = "fstat fails on the fd";
	} else if (!S_ISREG(st->st_mode)) {
		bad = "the fd is not a regular file";
	} else if (st->st_blksize != PAGE) {
		/* MFD_HUGETLB: 4 KiB offsets into 2 MiB pages do not map */
		bad = "the memfd is not made of 4 KiB pages (MFD_HUGETLB?)";
	} else {
		need = ((uint64_t)pgoff + count) * PAGE; /* < 2^33 * 2^12: cannot overflow */
		if (st->st_size < 0 || (uint64_t)st->st_size < need) {
			/* mapping past the end of the file would SIGBUS on access */
			bad = "the memfd is smaller than (pgoff + count) pages";
		} else if ((uint64_t)st->st_size > FD_MAX_SIZE) {
			/* v1.1: a sparse file of terabytes costs nothing to make and fills the address space of a mapper */
			bad = "the memfd is larger than 4 GiB";
		}
	}
	if (bad != NULL) {
		if (why != NULL) {
			*why = bad;
		}
		return -EPROTO;
	}
	return 0;
}

int gntemu_check_fd_why(int fd, uint32_t pgoff, uint32_t count, const char **why)
{
	struct stat st;

	return check_fd(fd, pgoff, count, why, &st);
}

int gntemu_check_fd(int fd, uint32_t pgoff, uint32_t count)
{
	return gntemu_check_fd_why(fd, pgoff, count, NULL);
}

/* ---------------------------------------------------------------- owner */

struct emu_share {
	struct grant_share pub; /* first: handed out as struct grant_share * */
	struct emu_share *next;
	uint32_t first, count;
	int rofd; /* O_RDONLY fd of the memfd, sent with every LOOKUP reply (-1 in a forked child) */
	uint32_t *refs;
};

struct owner_conn {
	int fd;
	size_t have;
	uint8_t untrusted_req[GNTEMU_REQ_LEN];
};

struct emu_owner {
	struct grant_owner base;
	struct emu_owner *next_live; /* registry (fork and exit handlers); registry_lock */
	int own, grantee;
	pid_t pid;   /* the process that created it */
	bool forked; /* set in a child after fork(): fds closed, no helper thread; under lock */

	pthread_mutex_t lock; /* everything below; the helper thread holds it while it serves */
	struct emu_share *shares;
	uint32_t next_ref;
	bool serving;  /* socket bound and helper thread running */
	bool stopping; /* the helper thread must exit */
	int listen_fd;
	int wake_fd; /* eventfd: wakes the helper thread */
	pthread_t thread;
	struct owner_conn conns[OWNER_MAX_CONNS]; /* changed only by the helper thread */
	size_t nconns;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t sock_dev;
	ino_t sock_ino;
};

static const struct grant_owner_ops emu_owner_ops;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct emu_owner *registry;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static struct emu_owner *emu_owner_from_base(struct grant_owner *o)
{
	INVARIANT(o->ops == &emu_owner_ops);
	return (struct emu_owner *)o;
}

/* Unlinks our socket unless another process has replaced it since. */
static void unlink_ours(const struct emu_owner *o)
{
	struct stat st;

	if (stat(o->path, &st) == 0 && st.st_dev == o->sock_dev && st.st_ino == o->sock_ino) {
		unlink(o->path);
	}
}

/*
 * fork() without exec: the child has no helper thread, but would keep copies
 * of the listening socket and of the grantee's connections, so the grantee
 * would wait for replies from a parent that has gone instead of seeing the
 * close. The child closes its copies; the owner stays the parent's. The
 * child handler only closes fds (the allocator may be locked across fork).
 */
static void fork_prepare(void)
{
	pthread_mutex_lock(&registry_lock);
	for (struct emu_owner *o = registry; o != NULL; o = o->next_live) {
		pthread_mutex_lock(&o->lock);
	}
}

static void fork_parent(void)
{
	for (struct emu_owner *o = registry; o != NULL; o = o->next_live) {
		pthread_mutex_unlock(&o->lock);
	}
	pthread_mutex_unlock(&registry_lock);
}

static void fork_child(void)
{
	for (struct emu_owner *o = registry; o != NULL; o = o->next_live) {
		if (!o->forked && o->serving) {
			for (size_t i = 0; i < o->nconns; i++) {
				close(o->conns[i].fd);
			}
			o->nconns = 0;
			close(o->listen_fd);
			close(o->wake_fd);
			o->listen_fd = o->wake_fd = -1;
		}
		for (struct emu_share *s = o->shares; s != NULL; s = s->next) {
			if (s->rofd >= 0) {
				close(s->rofd);
				s->rofd = -1;
			}
		}
		o->forked = true;
		pthread_mutex_unlock(&o->lock);
	}
	pthread_mutex_unlock(&registry_lock);
}

/* At exit the sockets go too (emulation.md 3.1), even if the owner was never destroyed. */
static void exit_unlink(void)
{
	pthread_mutex_lock(&registry_lock);
	for (struct emu_owner *o = registry; o != NULL; o = o->next_live) {
		pthread_mutex_lock(&o->lock);
		if (!o->forked && o->serving && o->pid == getpid()) {
			unlink_ours(o);
		}
		pthread_mutex_unlock(&o->lock);
	}
	pthread_mutex_unlock(&registry_lock);
}

static void registry_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	atexit(exit_unlink);
}

/* Answers one complete request. Returns false when the connection must be dropped. */
static bool conn_answer(struct emu_owner *o, struct owner_conn *c)
{
	uint32_t untrusted_op = le32(c->untrusted_req), untrusted_ref = le32(c->untrusted_req + 4);
	uint32_t status = STATUS_OK, first = 0, count = 0;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	uint8_t rep[GNTEMU_REPLY_LEN];
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	bool keep = true;
	int fd = -1;
	ssize_t n;

	if (untrusted_op != GNTEMU_OP_LOOKUP) {
		/* garbage: answer as 3.2 says, then hang up (the stream may be out of step) */
		status = STATUS_EINVAL;
		keep = false;
	} else {
		struct emu_share *s = o->shares;

		while (s != NULL && !(untrusted_ref >= s->first && untrusted_ref - s->first < s->count)) {
			s = s->next;
		}
		if (s == NULL) {
			status = STATUS_ENOENT;
		} else {
			first = s->first;
			count = s->count;
			fd = s->rofd;
		}
	}
	put_le32(rep, status);
	put_le32(rep + 4, first);
	put_le32(rep + 8, count);
	put_le32(rep + 12, 0); /* pgoff: one memfd per share */
	put_le32(rep + 16, 0); /* flags */
	if (fd >= 0) {
		struct cmsghdr *ch;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &fd, sizeof(fd));
	}
	/* one sendmsg per reply; never blocks: a grantee that does not read loses its connection */
	n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	log_debug("gntemu: dom %d LOOKUP ref %u by dom %d -> status %d run %u+%u%s", o->own, untrusted_ref,
			o->grantee, (int)(int32_t)status, first, count, fd >= 0 ? " +fd" : "");
	return keep && n == (ssize_t)sizeof(rep);
}

/* Reads and answers what the grantee sent. Returns false when the connection must be dropped. */
static bool conn_serve(struct emu_owner *o, struct owner_conn *c)
{
	for (int i = 0; i < OWNER_REQS_PER_WAKE; i++) {
		ssize_t n = recv(c->fd, c->untrusted_req + c->have, GNTEMU_REQ_LEN - c->have, MSG_DONTWAIT);

		if (n == 0) {
			return false;
		}
		if (n < 0) {
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		}
		c->have += (size_t)n;
		if (c->have == GNTEMU_REQ_LEN) {
			c->have = 0;
			if (!conn_answer(o, c)) {
				return false;
			}
		}
	}
	return true; /* more may be queued: poll says so again */
}

/* Accepts waiting grantees. Returns false when accept() is short of resources. */
static bool accept_all(struct emu_owner *o)
{
	for (;;) {
		int fd = accept4(o->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED) {
				continue;
			}
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		if (o->nconns == OWNER_MAX_CONNS) {
			/* a grantee opening connections without end cannot exhaust our fds */
			log_debug("gntemu: dom %d: more than %d connections from dom %d, closing one", o->own,
					OWNER_MAX_CONNS, o->grantee);
			close(fd);
			continue;
		}
		o->conns[o->nconns++] = (struct owner_conn){ .fd = fd };
	}
}

static void *owner_thread(void *arg)
{
	struct emu_owner *o = arg;
	struct pollfd pfd[2 + OWNER_MAX_CONNS];
	bool backoff = false;

	for (;;) {
		size_t np = 0, nconns, k = 0;
		int pr;

		pthread_mutex_lock(&o->lock);
		if (o->stopping) {
			pthread_mutex_unlock(&o->lock);
			break;
		}
		pfd[np++] = (struct pollfd){ .fd = o->wake_fd, .events = POLLIN };
		/* after EMFILE and the like, leave the backlog alone for a moment instead of spinning */
		pfd[np++] = (struct pollfd){ .fd = backoff ? -1 : o->listen_fd, .events = POLLIN };
		nconns = o->nconns;
		for (size_t i = 0; i < nconns; i++) {
			pfd[np++] = (struct pollfd){ .fd = o->conns[i].fd, .events = POLLIN };
		}
		pthread_mutex_unlock(&o->lock);

		pr = poll(pfd, np, backoff ? 100 : -1);
		if (pr < 0) {
			if (errno != EINTR) {
				struct timespec pause = { 0, 10 * 1000 * 1000 };

				nanosleep(&pause, NULL);
			}
			continue;
		}
		backoff = false;
		pthread_mutex_lock(&o->lock);
		if (pfd[0].revents != 0) {
			uint64_t v;

			if (read(o->wake_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: nothing to consume */
			}
		}
		for (size_t i = 0; i < nconns; i++) {
			struct owner_conn c = o->conns[i];

			if (pfd[2 + i].revents != 0 && !conn_serve(o, &c)) {
				close(c.fd);
				continue;
			}
			o->conns[k++] = c;
		}
		o->nconns = k;
		if ((pfd[1].revents & POLLIN) != 0 && !accept_all(o)) {
			log_error("gntemu: dom %d: accept on %s: %s", o->own, o->path, strerror(errno));
			backoff = true;
		}
		pthread_mutex_unlock(&o->lock);
	}
	return NULL;
}

/*
 * 0 when path is free or a stale socket (one that refuses connections),
 * -EADDRINUSE when a live process answers there, -EEXIST for a non-socket.
 */
static int probe_socket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int s, r, e;

	if (lstat(path, &st) != 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		return -EEXIST;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0) {
		return -errno;
	}
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	e = errno;
	close(s);
	if (r == 0 || e == EAGAIN) { /* EAGAIN: its backlog is full, so someone listens */
		return -EADDRINUSE;
	}
	return (e == ECONNREFUSED || e == ENOENT) ? 0 : -e;
}

/*
 * Binds and listens on gntshr.<own>.<grantee>.sock (emulation.md 3.1), mode
 * 0660 from its first moment: bound under a temporary name, chmod-ed, then
 * renamed over the final name (which also replaces a stale socket
 * atomically). The directory is flock-ed meanwhile, so two of our processes
 * cannot both take a stale socket's place. Caller holds o->lock.
 */
static int owner_listen(struct emu_owner *o)
{
	const char *dir = backend_socket_dir();
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int dfd, fd = -1, rc;

	rc = sock_path(o->path, sizeof(o->path), o->own, o->grantee);
	if (rc != 0) {
		return rc;
	}
	rc = snprintf(a.sun_path, sizeof(a.sun_path), "%s/.gntshr.%d.%d.%d.tmp", dir, o->own, o->grantee,
			(int)getpid());
	if (rc < 0 || (size_t)rc >= sizeof(a.sun_path)) {
		log_error("gntemu: socket path under %s is too long", dir);
		return -ENAMETOOLONG;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		log_error("gntemu: socket directory %s: %s", dir, strerror(errno));
		return rc;
	}
	(void)flock(dfd, LOCK_EX); /* best effort: some file systems have no flock */

	rc = probe_socket(o->path);
	if (rc == -EADDRINUSE) {
		log_error("gntemu: %s is served by another live process of dom %d", o->path, o->own);
		goto out;
	}
	if (rc != 0) {
		log_error("gntemu: cannot take %s: %s", o->path, rc == -EEXIST ? "not a socket" : strerror(-rc));
		goto out;
	}
	unlink(a.sun_path); /* left by a crashed process that had our pid */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		rc = -errno;
		log_error("gntemu: cannot bind %s: %s", a.sun_path, strerror(errno));
		goto out;
	}
	/* the file mode is the only access control of the emulation */
	if (chmod(a.sun_path, 0660) != 0 || listen(fd, 16) != 0 || rename(a.sun_path, o->path) != 0 ||
			stat(o->path, &st) != 0) {
		rc = -errno;
		log_error("gntemu: cannot listen on %s: %s", o->path, strerror(errno));
		unlink(a.sun_path);
		goto out;
	}
	o->sock_dev = st.st_dev;
	o->sock_ino = st.st_ino;
	o->listen_fd = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
	}
	(void)flock(dfd, LOCK_UN);
	close(dfd);
	return rc;
}

/* Binds the socket and starts the helper thread. Caller holds o->lock. */
static int owner_start(struct emu_owner *o)
{
	sigset_t all, old;
	int rc;

	rc = owner_listen(o);
	if (rc != 0) {
		return rc;
	}
	o->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (o->wake_fd < 0) {
		rc = -errno;
		goto fail;
	}
	o->stopping = false;
	o->nconns = 0;
	/* the helper takes no signals: the program's handlers run in its own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&o->thread, NULL, owner_thread, o);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		close(o->wake_fd);
		o->wake_fd = -1;
		goto fail;
	}
	o->serving = true;
	log_debug("gntemu: dom %d serves dom %d on %s", o->own, o->grantee, o->path);
	return 0;
fail:
	log_error("gntemu: cannot serve %s: %s", o->path, strerror(-rc));
	close(o->listen_fd);
	o->listen_fd = -1;
	unlink_ours(o);
	return rc;
}

/* A free run of count refs, overlapping no live share. Caller holds o->lock. */
static int refs_alloc(struct emu_owner *o, uint32_t count, uint32_t *first)
{
	uint32_t cand = o->next_ref;
	bool wrapped = false;

	for (;;) {
		struct emu_share *hit = o->shares;

		if (cand < REF_FIRST || count > REF_END - cand) {
			if (wrapped) {
				return -ENOSPC;
			}
			wrapped = true;
			cand = REF_FIRST;
			continue;
		}
		/* refs of a live share are never reused: a grantee would map the wrong pages */
		while (hit != NULL && !(hit->first < cand + count && cand < hit->first + hit->count)) {
			hit = hit->next;
		}
		if (hit == NULL) {
			break;
		}
		cand = hit->first + hit->count; /* strictly increases: the loop ends */
	}
	*first = cand;
	o->next_ref = cand + count;
	return 0;
}

struct grant_owner *gntemu_owner_create(int own_domid, int grantee_domid)
{
	struct emu_owner *o;
	int e;

	if (sysconf(_SC_PAGESIZE) != PAGE) {
		log_error("gntemu: the page size is not %u bytes", PAGE);
		errno = EOPNOTSUPP;
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		return NULL;
	}
	e = pthread_mutex_init(&o->lock, NULL);
	if (e != 0) {
		free(o);
		errno = e;
		return NULL;
	}
	o->base.ops = &emu_owner_ops;
	o->own = own_domid;
	o->grantee = grantee_domid;
	o->pid = getpid();
	o->next_ref = REF_FIRST;
	o->listen_fd = o->wake_fd = -1;
	pthread_once(&registry_once, registry_init);
	pthread_mutex_lock(&registry_lock);
	o->next_live = registry;
	registry = o;
	pthread_mutex_unlock(&registry_lock);
	return &o->base;
}

static void share_free(struct emu_share *s)
{
	if (s->pub.addr != NULL) {
		munmap(s->pub.addr, s->pub.npages * PAGE);
	}
	if (s->rofd >= 0) {
		close(s->rofd);
	}
	free(s->refs);
	free(s);
}

/* A new zero-filled sealed memfd of npages, mapped writable; s->rofd its read-only twin. */
static int share_make(struct emu_share *s, size_t npages)
{
	size_t len = npages * PAGE;
	char proc[64];
	int fd, rc = 0;

	fd = memfd_create("qgui-grant", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		return -errno;
	}
	/* SHRINK: no grantee mapping can ever SIGBUS; GROW: the size is fixed; SEAL: for good */
	if (ftruncate(fd, (off_t)len) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		rc = -errno;
		goto out;
	}
	s->pub.addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s->pub.addr == MAP_FAILED) {
		s->pub.addr = NULL;
		rc = -errno;
		goto out;
	}
	/* a read-only grant sends an O_RDONLY fd: the grantee cannot write even through its own fd */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	s->rofd = open(proc, O_RDONLY | O_CLOEXEC);
	if (s->rofd < 0) {
		rc = -errno;
	}
out:
	close(fd); /* the writable mapping keeps the memfd alive */
	return rc;
}

static int emu_owner_share(struct grant_owner *base, size_t npages, struct grant_share **out)
{
	struct emu_owner *o = emu_owner_from_base(base);
	struct emu_share *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL) {
		return -ENOMEM;
	}
	s->rofd = -1;
	s->pub.npages = npages;
	s->refs = calloc(npages, sizeof(uint32_t));
	if (s->refs == NULL) {
		share_free(s);
		return -ENOMEM;
	}
	rc = share_make(s, npages);
	if (rc != 0) {
		log_error("gntemu: cannot make a %zu-page share: %s", npages, strerror(-rc));
		share_free(s);
		return rc;
	}
	s->count = (uint32_t)npages;
	s->pub.refs = s->refs;

	pthread_mutex_lock(&o->lock);
	if (o->forked) {
		log_error("gntemu: this grant owner belongs to process %d; a forked child must create its own",
				(int)o->pid);
		rc = -EBADF;
	} else if (!o->serving) {
		rc = owner_start(o); /* bound before the first ref is handed out */
	}
	if (rc == 0) {
		rc = refs_alloc(o, s->count, &s->first);
	}
	if (rc == 0) {
		for (uint32_t i = 0; i < s->count; i++) {
			s->refs[i] = s->first + i;
		}
		s->next = o->shares; /* from now on LOOKUP finds it */
		o->shares = s;
	}
	pthread_mutex_unlock(&o->lock);
	if (rc != 0) {
		share_free(s);
		return rc;
	}
	log_debug("gntemu: dom %d shares refs %u..%u with dom %d", o->own, s->first, s->first + s->count - 1,
			o->grantee);
	*out = &s->pub;
	return 0;
}

static void emu_owner_unshare(struct grant_owner *base, struct grant_share *pub)
{
	struct emu_owner *o = emu_owner_from_base(base);
	struct emu_share **pp, *s;

	pthread_mutex_lock(&o->lock);
	pp = &o->shares;
	while (*pp != NULL && &(*pp)->pub != pub) {
		pp = &(*pp)->next;
	}
	/* a share of another owner, or one already unshared: a caller bug */
	INVARIANT(*pp != NULL);
	s = *pp;
	*pp = s->next; /* from now on LOOKUP answers -ENOENT */
	pthread_mutex_unlock(&o->lock);
	/* the grantee's mappings hold their own references to the memfd and keep their pages */
	share_free(s);
}

static void emu_owner_destroy(struct grant_owner *base)
{
	struct emu_owner *o = emu_owner_from_base(base);
	struct emu_owner **pp;
	bool stop;

	pthread_mutex_lock(&registry_lock);
	for (pp = &registry; *pp != NULL && *pp != o; pp = &(*pp)->next_live) {
	}
	INVARIANT(*pp == o);
	*pp = o->next_live;
	pthread_mutex_unlock(&registry_lock);

	pthread_mutex_lock(&o->lock);
	stop = o->serving && !o->forked;
	o->stopping = true;
	pthread_mutex_unlock(&o->lock);
	if (stop) {
		uint64_t one = 1;

		if (write(o->wake_fd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
			INVARIANT(0); /* an eventfd takes 1 until it holds 2^64 - 2 */
		}
		pthread_join(o->thread, NULL);
		for (size_t i = 0; i < o->nconns; i++) {
			close(o->conns[i].fd);
		}
		close(o->listen_fd);
		close(o->wake_fd);

		int dfd = open(backend_socket_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			(void)flock(dfd, LOCK_EX);
		}
		unlink_ours(o);
		if (dfd >= 0) {
			(void)flock(dfd, LOCK_UN);
			close(dfd);
		}
	}
	while (o->shares != NULL) {
		struct emu_share *s = o->shares;

		o->shares = s->next;
		share_free(s);
	}
	pthread_mutex_destroy(&o->lock);
	free(o);
}

/* The owner may write its own pages: a read-write reopening of the memfd. */
static int emu_owner_share_fd(struct grant_owner *base, const struct grant_share *pub)
{
	const struct emu_share *s = (const struct emu_share *)pub;
	char path[64];

	(void)emu_owner_from_base(base);
	if (s->rofd < 0) {
		errno = EBADF;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", s->rofd);
	return open(path, O_RDWR | O_CLOEXEC);
}

static const struct grant_owner_ops emu_owner_ops = {
	.share = emu_owner_share,
	.unshare = emu_owner_unshare,
	.destroy = emu_owner_destroy,
	.share_fd = emu_owner_share_fd,
};

/* ---------------------------------------------------------------- grantee */

struct emu_mapper {
	struct grant_mapper base;
	int own, owner;
	int conn;       /* kept connection to the owner, or -1 */
	pid_t conn_pid; /* the process that opened conn: a forked child must not share it */
	struct sockaddr_un addr;
};

struct emu_mapping {
	struct grant_mapping base;
	int fd;     /* the owner's memfd when the mapping is exactly its pages 0..n-1 (ours to close); else -1 */
	void *addr; /* the read-only view, or NULL until it is mapped */
};

static const struct grant_mapper_ops emu_mapper_ops;
static const struct grant_mapping_ops emu_mapping_ops;

static struct emu_mapper *emu_mapper_from_base(struct grant_mapper *m)
{
	INVARIANT(m->ops == &emu_mapper_ops);
	return (struct emu_mapper *)m;
}

static struct emu_mapping *emu_mapping_from_base(const struct grant_mapping *g)
{
	INVARIANT(g->ops == &emu_mapping_ops);
	return (struct emu_mapping *)(uintptr_t)g;
}

struct grant_mapper *gntemu_mapper_create(int own_domid, int owner_domid)
{
	struct emu_mapper *m;

	if (sysconf(_SC_PAGESIZE) != PAGE) {
		log_error("gntemu: the page size is not %u bytes", PAGE);
		errno = EOPNOTSUPP;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return NULL;
	}
	m->base.ops = &emu_mapper_ops;
	m->own = own_domid;
	m->owner = owner_domid;
	m->conn = -1;
	m->addr.sun_family = AF_UNIX;
	if (sock_path(m->addr.sun_path, sizeof(m->addr.sun_path), owner_domid, own_domid) != 0) {
		free(m);
		errno = ENAMETOOLONG;
		return NULL;
	}
	return &m->base;
}

static void conn_drop(struct emu_mapper *m)
{
	if (m->conn >= 0) {
		close(m->conn);
		m->conn = -1;
	}
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		close(fds[i]);
	}
}

/* 0, or -ENOENT when the owner has no live socket for us (missing or refusing). */
static int conn_open(struct emu_mapper *m)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), e;

	if (s < 0) {
		return -errno;
	}
	if (connect(s, (struct sockaddr *)&m->addr, sizeof(m->addr)) != 0) {
		e = errno;
		close(s);
		log_debug("gntemu: connect %s: %s", m->addr.sun_path, strerror(e));
		/* EAGAIN: a backlog nobody accepts from; the same as refusing for us */
		return (e == ENOENT || e == ECONNREFUSED || e == EAGAIN) ? -ENOENT : -e;
	}
	m->conn = s;
	m->conn_pid = getpid();
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Sends what is left of the request. 0 (all sent), -EAGAIN, -EPIPE (the owner closed), or -errno. */
static int send_request(int fd, const uint8_t *req, size_t *sent)
{
	while (*sent < GNTEMU_REQ_LEN) {
		ssize_t n = send(fd, req + *sent, GNTEMU_REQ_LEN - *sent, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			*sent += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return -EAGAIN;
		} else {
			return (n == 0 || errno == EPIPE || errno == ECONNRESET) ? -EPIPE : -errno;
		}
	}
	return 0;
}

struct reply {
	uint8_t untrusted_buf[GNTEMU_REPLY_LEN];
	size_t len;
	int fds[RECV_MAX_FDS];
	size_t nfds;     /* fds held in fds[] */
	bool bad_cmsg;   /* MSG_CTRUNC, foreign control data, or more fds than fds[] holds */
};

/* Takes the fds of one recvmsg into r; what does not fit is closed at once. */
static void take_fds(struct msghdr *mh, struct reply *r)
{
	if ((mh->msg_flags & MSG_CTRUNC) != 0) {
		r->bad_cmsg = true; /* the kernel dropped fds it had no room for */
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			r->bad_cmsg = true;
			continue;
		}
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t j = 0; j < k; j++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(fd));
			if (r->nfds < RECV_MAX_FDS) {
				r->fds[r->nfds++] = fd;
			} else {
				close(fd);
				r->bad_cmsg = true;
			}
		}
	}
}

/*
 * Receives what is there of one reply of GNTEMU_REPLY_LEN bytes. 0
 * (complete), -EAGAIN (more to come), -EPIPE (EOF or reset before any byte
 * or fd), -EPROTO with *why, or -errno. r->fds are the caller's to close in
 * every case.
 */
static int recv_reply(int fd, struct reply *r, const char **why)
{
	while (r->len < GNTEMU_REPLY_LEN) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * RECV_MAX_FDS)];
		} cm;
		struct iovec iov = { .iov_base = r->untrusted_buf + r->len, .iov_len = GNTEMU_REPLY_LEN - r->len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			.msg_controllen = sizeof(cm.buf) };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n > 0 || (n == 0 && mh.msg_controllen > 0)) {
			take_fds(&mh, r);
			r->len += (size_t)n;
			if (n > 0) {
				continue;
			}
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			if (r->len == 0 && r->nfds == 0 && !r->bad_cmsg) {
				return -EPIPE;
			}
			*why = "the connection closed inside a reply";
			return -EPROTO;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -errno;
	}
	return 0;
}

/* On a kept connection, before a request: 0 nothing waiting, 1 EOF, 2 bytes waiting, or -errno. */
static int conn_pending(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			return 0;
		}
		return errno == ECONNRESET ? 1 : -errno;
	}
	return n == 0 ? 1 : 2;
}

static int violation(struct emu_mapper *m, uint32_t ref, const char *why)
{
	log_error("gntemu: dom %d broke the grant protocol (LOOKUP of ref %u): %s", m->owner, ref, why);
	conn_drop(m); /* its stream can no longer be trusted to be in step */
	return -EPROTO;
}

struct map_run {
	struct gntemu_run run;
	size_t fdi; /* index into the call's fds */
};

struct map_seg {
	size_t fdi;
	uint64_t page; /* in the fd */
	size_t npages;
};

struct map_state {
	struct map_run *runs;
	size_t nruns, runs_cap;
	struct map_seg *segs;
	size_t nsegs, segs_cap;
	int fds[MAPPER_MAX_FDS];
	dev_t dev[MAPPER_MAX_FDS];
	ino_t ino[MAPPER_MAX_FDS];
	uint64_t size[MAPPER_MAX_FDS]; /* bytes; fixed for good by F_SEAL_SHRINK | F_SEAL_GROW */
	size_t nfds;
};

/* Where one map call stands: refs[i..] are left; lookup names the LOOKUP in flight. */
enum op_phase { PH_NEXT, PH_SEND, PH_RECV };

struct emu_op {
	struct grant_map_op base;
	struct emu_mapper *m;
	uint32_t *refs;
	size_t n, i, last;
	struct map_state st;
	int64_t deadline;    /* of the whole call (ms, monotonic), or INT64_MAX */
	unsigned max_runs;
	enum op_phase phase;
	/* the LOOKUP in flight */
	uint32_t ref;
	int attempt;         /* 1 after the one reconnect a kept connection is allowed */
	bool fresh;          /* the connection was opened for this LOOKUP */
	uint8_t req[GNTEMU_REQ_LEN];
	size_t sent;
	struct reply r;
	int64_t lookup_deadline; /* emulation.md 3.3: each reply within 5 s of its request */
};

static const struct grant_map_op_ops emu_op_ops;

static int grow(void **arr, size_t *cap, size_t elem, size_t limit)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	void *n;

	if (ncap > limit) {
		ncap = limit;
	}
	n = reallocarray(*arr, ncap, elem);
	if (n == NULL) {
		return -ENOMEM;
	}
	*arr = n;
	*cap = ncap;
	return 0;
}

/* The run of this call that holds ref, or NULL. Tries the last one used first. */
static struct map_run *run_find(struct map_state *st, size_t last, uint32_t ref)
{
	if (last < st->nruns) {
		struct map_run *r = &st->runs[last];

		if (ref >= r->run.first && ref - r->run.first < r->run.count) {
			return r;
		}
	}
	for (size_t i = 0; i < st->nruns; i++) {
		struct map_run *r = &st->runs[i];

		if (ref >= r->run.first && ref - r->run.first < r->run.count) {
			return r;
		}
	}
	return NULL;
}

/* Records a checked run. Takes the fd: keeps it, or closes it for one of the same memfd. */
static int run_add(struct emu_op *op, const struct gntemu_run *run, int fd, const struct stat *fst)
{
	struct map_state *st = &op->st;
	size_t fdi;

	for (fdi = 0; fdi < st->nfds; fdi++) {
		if (st->dev[fdi] == fst->st_dev && st->ino[fdi] == fst->st_ino) {
			break;
		}
	}
	if (fdi < st->nfds) {
		close(fd); /* the same memfd as an earlier run: one fd will do */
	} else if (st->nfds == MAPPER_MAX_FDS) {
		char why[80];

		/* one memfd per ref would fill our fd table */
		close(fd);
		snprintf(why, sizeof(why), "more than %u different memfds in one mapping", MAPPER_MAX_FDS);
		return violation(op->m, op->ref, why);
	} else {
		st->fds[fdi] = fd;
		st->dev[fdi] = fst->st_dev;
		st->ino[fdi] = fst->st_ino;
		st->size[fdi] = (uint64_t)fst->st_size; /* >= 0: checked by check_fd */
		st->nfds++;
	}
	if (st->nruns == st->runs_cap) {
		int rc = grow((void **)&st->runs, &st->runs_cap, sizeof(*st->runs), GRANT_MAX_RUNS);

		if (rc != 0) {
			return rc; /* the fd stays in st->fds: closed with the call */
		}
	}
	st->runs[st->nruns] = (struct map_run){ .run = *run, .fdi = fdi };
	op->last = st->nruns++;
	return 0;
}

/*
 * Walks refs[i..] through the runs already looked up, building segments.
 * 1 when refs[i] needs a LOOKUP (op->ref), 0 when every ref is placed, or -errno.
 */
static int refs_advance(struct emu_op *op)
{
	struct map_state *st = &op->st;

	while (op->i < op->n) {
		uint32_t ref = op->refs[op->i];
		struct map_run *r = run_find(st, op->last, ref);
		uint64_t page;
		size_t k = 1;

		if (r == NULL) {
			op->ref = ref;
			return 1;
		}
		op->last = (size_t)(r - st->runs);
		/* consecutive refs inside the same run are consecutive pages: one segment, one mmap */
		while (op->i + k < op->n && (uint64_t)(ref - r->run.first) + k < r->run.count &&
				op->refs[op->i + k] == ref + (uint32_t)k) {
			k++;
		}
		page = (uint64_t)r->run.pgoff + (ref - r->run.first);
		if (st->nsegs > 0 && st->segs[st->nsegs - 1].fdi == r->fdi &&
				st->segs[st->nsegs - 1].page + st->segs[st->nsegs - 1].npages == page) {
			st->segs[st->nsegs - 1].npages += k;
		} else {
			if (st->nsegs == st->segs_cap) {
				int rc = grow((void **)&st->segs, &st->segs_cap, sizeof(*st->segs), op->n);

				if (rc != 0) {
					return rc;
				}
			}
			st->segs[st->nsegs++] = (struct map_seg){ .fdi = r->fdi, .page = page, .npages = k };
		}
		op->i += k;
	}
	return 0;
}

/*
 * Starts the LOOKUP of op->ref: checks a kept connection, or opens one.
 * 0 (phase PH_SEND), -ENOENT (no live socket), -EPROTO (logged), -errno.
 */
static int lookup_begin(struct emu_op *op)
{
	struct emu_mapper *m = op->m;
	int64_t now = now_ms();

	for (;;) {
		int rc;

		if (m->conn >= 0 && m->conn_pid != getpid()) {
			conn_drop(m); /* forked: that stream is the parent's (closing our copy leaves it open) */
		}
		op->fresh = false;
		if (m->conn >= 0) {
			rc = conn_pending(m->conn);
			if (rc == 1 && op->attempt == 0) {
				/* the owner closed our kept connection since the last lookup: reconnect once */
				conn_drop(m);
				op->attempt++;
				continue;
			}
			if (rc == 2) {
				/* bytes nobody asked for would be read as the reply to this request */
				return violation(m, op->ref, "unsolicited bytes before the request");
			}
			if (rc < 0) {
				conn_drop(m);
				return rc;
			}
		}
		if (m->conn < 0) {
			rc = conn_open(m);
			if (rc != 0) {
				return rc;
			}
			op->fresh = true;
		}
		break;
	}
	put_le32(op->req, GNTEMU_OP_LOOKUP);
	put_le32(op->req + 4, op->ref);
	op->sent = 0;
	op->r = (struct reply){ .len = 0 };
	op->lookup_deadline = now + LOOKUP_TIMEOUT_MS;
	op->phase = PH_SEND;
	return 0;
}

/* The reply is complete: checks it (emulation.md 3.3) and records its run. 0 (phase PH_NEXT), -EPROTO, -errno. */
static int lookup_end(struct emu_op *op)
{
	struct reply *r = &op->r;
	struct gntemu_run run;
	const char *why = NULL;
	struct stat fst;
	int rc;

	rc = gntemu_parse_reply_why(r->untrusted_buf, r->len, r->bad_cmsg ? -1 : (int)r->nfds, op->ref, &run, &why);
	if (rc == 0) {
		rc = check_fd(r->fds[0], run.pgoff, run.count, &why, &fst);
	}
	if (rc != 0) {
		close_fds(r->fds, r->nfds);
		r->nfds = 0;
		if (rc == -ENOENT) {
			/* refs stay granted until WINDOW_DUMP_ACK (3.4): one that is not is the owner's violation */
			log_error("gntemu: dom %d: ref %u is not granted to dom %d", op->m->owner, op->ref, op->m->own);
			return -EPROTO;
		}
		return violation(op->m, op->ref, why);
	}
	log_debug("gntemu: dom %d ref %u -> run %u+%u at page %u", op->m->owner, op->ref, run.first, run.count,
			run.pgoff);
	r->nfds = 0; /* r->fds[0] goes to run_add */
	op->phase = PH_NEXT;
	return run_add(op, &run, r->fds[0], &fst);
}

/* The connection went away before any byte of the reply: reconnect once on a kept one, else a violation. */
static int lookup_closed(struct emu_op *op)
{
	close_fds(op->r.fds, op->r.nfds);
	op->r.nfds = 0;
	if (!op->fresh && op->attempt == 0) {
		/* a kept connection the owner closed (it restarted, or dropped idle ones): reconnect once */
		conn_drop(op->m);
		op->attempt++;
		return lookup_begin(op);
	}
	return violation(op->m, op->ref, "the owner closed the connection without a reply");
}

/* Maps every segment into one PROT_NONE reservation of n pages: a live view with no copy. */
static int map_segments(struct emu_mapper *m, const struct map_state *st, size_t n, void **out)
{
	uint8_t *base = mmap(NULL, n * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	size_t at = 0;

	if (base == MAP_FAILED) {
		return -errno;
	}
	for (size_t i = 0; i < st->nsegs; i++) {
		const struct map_seg *s = &st->segs[i];

		/* read-only and shared: we see the owner's live pages and can never write them */
		if (mmap(base + at * PAGE, s->npages * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, st->fds[s->fdi],
				    (off_t)(s->page * PAGE)) == MAP_FAILED) {
			/* the fd passed every check, so the owner found a way around them (rig-facts 5) */
			log_error("gntemu: dom %d: mapping %zu pages at page %llu of its memfd failed: %s", m->owner,
					s->npages, (unsigned long long)s->page, strerror(errno));
			munmap(base, n * PAGE);
			return -EPROTO;
		}
		at += s->npages;
	}
	INVARIANT(at == n);
	*out = base;
	return 0;
}

/* Every ref is placed: the mapping. 0 with *out, or -errno. */
static int op_finish(struct emu_op *op, struct grant_mapping **out)
{
	struct map_state *st = &op->st;
	struct emu_mapping *g = calloc(1, sizeof(*g));
	int rc;

	if (g == NULL) {
		return -ENOMEM;
	}
	g->base.ops = &emu_mapping_ops;
	g->base.npages = op->n;
	g->fd = -1;
	if (st->nsegs == 1 && st->segs[0].page == 0 && st->size[st->segs[0].fdi] == (uint64_t)op->n * PAGE) {
		/*
		 * The pages are the whole memfd, in order: keep its fd for the X
		 * server, map on demand. MIT-SHM AttachFd maps the whole file, and
		 * the X server is shared by every VM: a memfd with one page more than
		 * this mapping (emulation.md 3.3, v1.1) takes the mapped path below.
		 */
		g->fd = st->fds[st->segs[0].fdi];
		st->fds[st->segs[0].fdi] = -1;
	} else {
		rc = map_segments(op->m, st, op->n, &g->addr);
		if (rc != 0) {
			free(g);
			return rc;
		}
	}
	*out = &g->base;
	return 0;
}

static void op_free(struct emu_op *op)
{
	for (size_t i = 0; i < op->st.nfds; i++) {
		if (op->st.fds[i] >= 0) {
			close(op->st.fds[i]);
		}
	}
	close_fds(op->r.fds, op->r.nfds);
	free(op->st.runs);
	free(op->st.segs);
	free(op->refs);
	free(op);
}

static struct emu_op *emu_op_from_base(struct grant_map_op *o)
{
	INVARIANT(o->ops == &emu_op_ops);
	return (struct emu_op *)o;
}

/* Does all the work that does not block; see grant_map_step. Does not free op. */
static int op_run(struct emu_op *op, struct grant_mapping **out, struct pollfd *pfd, int *timeout_ms)
{
	for (;;) {
		const char *why = NULL;
		short want = 0;
		int64_t now, until;
		int rc = 0;

		switch (op->phase) {
		case PH_NEXT:
			rc = refs_advance(op);
			if (rc == 0) {
				return op_finish(op, out);
			}
			if (rc < 0) {
				return rc;
			}
			if (op->st.nruns >= op->max_runs) {
				/* an owner answering with one-page runs would make us do a round trip per page */
				char msg[80];

				snprintf(msg, sizeof(msg), "more than %u runs (LOOKUPs) in one mapping", op->max_runs);
				return violation(op->m, op->ref, msg);
			}
			rc = lookup_begin(op);
			break;
		case PH_SEND:
			rc = send_request(op->m->conn, op->req, &op->sent);
			if (rc == 0) {
				op->phase = PH_RECV;
			} else if (rc == -EAGAIN) {
				want = POLLOUT;
			} else if (rc == -EPIPE) {
				rc = lookup_closed(op);
			} else {
				conn_drop(op->m);
			}
			break;
		case PH_RECV:
			rc = recv_reply(op->m->conn, &op->r, &why);
			if (rc == 0) {
				rc = lookup_end(op);
			} else if (rc == -EAGAIN) {
				want = POLLIN;
			} else if (rc == -EPIPE) {
				rc = lookup_closed(op);
			} else if (rc == -EPROTO) {
				rc = violation(op->m, op->ref, why);
			} else {
				conn_drop(op->m); /* local trouble mid-reply: the stream may be out of step */
			}
			break;
		}
		if (rc == -ENOENT) {
			/* no live socket: as "not granted" (3.2), and dump refs stay granted until the ack (3.4) */
			log_error("gntemu: dom %d: ref %u is not granted to dom %d (no live grant socket)", op->m->owner,
					op->ref, op->m->own);
			return -EPROTO;
		}
		if (rc != 0 && rc != -EAGAIN) {
			return rc;
		}
		if (want == 0) {
			continue;
		}
		/* the deadlines count from the request and from the call: an owner trickling bytes cannot stretch them */
		now = now_ms();
		if (now >= op->lookup_deadline) {
			return violation(op->m, op->ref, "no complete reply within 5 s");
		}
		if (now >= op->deadline) {
			char msg[96];

			snprintf(msg, sizeof(msg), "the mapping was not complete within its %u ms deadline (%zu LOOKUPs)",
					op->m->base.deadline_ms, op->st.nruns + 1);
			return violation(op->m, op->ref, msg);
		}
		until = op->lookup_deadline < op->deadline ? op->lookup_deadline : op->deadline;
		*pfd = (struct pollfd){ .fd = op->m->conn, .events = want };
		*timeout_ms = (int)(until - now);
		return -EINPROGRESS;
	}
}

static int emu_op_step(struct grant_map_op *base, struct grant_mapping **out, struct pollfd *pfd, int *timeout_ms)
{
	struct emu_op *op = emu_op_from_base(base);
	int rc = op_run(op, out, pfd, timeout_ms);

	if (rc != -EINPROGRESS) {
		op_free(op);
	}
	return rc;
}

static void emu_op_cancel(struct grant_map_op *base)
{
	struct emu_op *op = emu_op_from_base(base);

	if (op->phase != PH_NEXT) {
		conn_drop(op->m); /* a reply may still come: the stream would be out of step */
	}
	op_free(op);
}

static const struct grant_map_op_ops emu_op_ops = {
	.step = emu_op_step,
	.cancel = emu_op_cancel,
};

static int emu_mapper_map_start(struct grant_mapper *base, const uint32_t *refs, size_t n, struct grant_map_op **out)
{
	struct emu_mapper *m = emu_mapper_from_base(base);
	struct emu_op *op = calloc(1, sizeof(*op));

	if (op == NULL || (op->refs = malloc(n * sizeof(*refs))) == NULL) {
		free(op);
		return -ENOMEM;
	}
	memcpy(op->refs, refs, n * sizeof(*refs));
	op->base.ops = &emu_op_ops;
	op->m = m;
	op->n = n;
	op->last = SIZE_MAX;
	op->phase = PH_NEXT;
	op->max_runs = base->max_runs;
	op->deadline = base->deadline_ms ? now_ms() + base->deadline_ms : INT64_MAX;
	*out = &op->base;
	return 0;
}

static void emu_mapper_destroy(struct grant_mapper *base)
{
	struct emu_mapper *m = emu_mapper_from_base(base);

	conn_drop(m);
	free(m);
}

static const void *emu_mapping_addr(struct grant_mapping *base)
{
	struct emu_mapping *g = emu_mapping_from_base(base);
	void *addr;

	if (g->addr == NULL) {
		INVARIANT(g->fd >= 0);
		addr = mmap(NULL, g->base.npages * PAGE, PROT_READ, MAP_SHARED, g->fd, 0);
		if (addr == MAP_FAILED) {
			int e = errno;

			log_error("gntemu: mapping %zu granted pages failed: %s", g->base.npages, strerror(e));
			errno = e;
			return NULL;
		}
		g->addr = addr;
	}
	return g->addr;
}

static int emu_mapping_fd(const struct grant_mapping *base, size_t *offset)
{
	const struct emu_mapping *g = emu_mapping_from_base(base);

	if (g->fd < 0) {
		return -1;
	}
	if (offset != NULL) {
		*offset = 0;
	}
	return g->fd;
}

static void emu_mapping_destroy(struct grant_mapping *base)
{
	struct emu_mapping *g = emu_mapping_from_base(base);

	if (g->addr != NULL) {
		munmap(g->addr, g->base.npages * PAGE);
	}
	if (g->fd >= 0) {
		close(g->fd);
	}
	free(g);
}

static const struct grant_mapper_ops emu_mapper_ops = {
	.map_start = emu_mapper_map_start,
	.destroy = emu_mapper_destroy,
};

static const struct grant_mapping_ops emu_mapping_ops = {
	.addr = emu_mapping_addr,
	.fd = emu_mapping_fd,
	.destroy = emu_mapping_destroy,
};
