/* gntemu.h: the gntemu wire format (emulation.md 3.2) and the grantee's checks of 3.3, pure and fuzzable. */
#ifndef QGUI_GNTEMU_H
#define QGUI_GNTEMU_H

#include <stddef.h>
#include <stdint.h>

#define GNTEMU_OP_LOOKUP 1u
#define GNTEMU_REQ_LEN 8u    /* {u32 op, u32 ref}, little-endian */
#define GNTEMU_REPLY_LEN 20u /* {i32 status, u32 first, u32 count, u32 pgoff, u32 flags} */

/* A checked LOOKUP answer: reference first + i (i < count) is page pgoff + i of the fd. */
struct gntemu_run {
	uint32_t first;
	uint32_t count;
	uint32_t pgoff;
};

/*
 * Parses the untrusted LOOKUP reply to a request for ref: buf/len are the
 * reply bytes received (a complete reply has exactly GNTEMU_REPLY_LEN), nfds
 * the number of file descriptors that came with them, or -1 when the control
 * data was truncated or was not SCM_RIGHTS.
 * Returns 0 with *out filled (status 0, flags 0, exactly one fd,
 * first <= ref < first + count and first + count <= 2^32, no overflow);
 * -ENOENT when the owner answered "not granted" correctly (no fd, all other
 * fields 0); -EPROTO for anything else (a short or long reply, a status other
 * than 0, -ENOENT or -EINVAL, -EINVAL to a LOOKUP, an fd with a non-zero
 * status, ...). *out is zeroed unless 0 is returned. Borrows buf; no I/O.
 */
int gntemu_parse_reply(const uint8_t *buf, size_t len, int nfds, uint32_t ref, struct gntemu_run *out);

/* As gntemu_parse_reply; on failure *why (if why is not NULL) names the broken rule. */
int gntemu_parse_reply_why(const uint8_t *buf, size_t len, int nfds, uint32_t ref, struct gntemu_run *out,
		const char **why);

/*
 * The checks of emulation.md 3.3 (v1.1) on an fd an owner sent for a run of
 * count pages starting at page pgoff: a regular file whose F_GET_SEALS
 * succeeds and includes F_SEAL_SHRINK and F_SEAL_GROW (so it is a memfd whose
 * size is fixed for good: it can neither shrink under our mapping nor grow
 * after the checks), st_blksize 4096 (no MFD_HUGETLB), st_size >= (pgoff +
 * count) * 4096 computed without overflow, and st_size <= 2^32 (a sparse file
 * of terabytes is refused). Returns 0, or -EPROTO. Borrows fd.
 */
int gntemu_check_fd(int fd, uint32_t pgoff, uint32_t count);

/* As gntemu_check_fd; on failure *why (if not NULL) names the failed check. */
int gntemu_check_fd_why(int fd, uint32_t pgoff, uint32_t count, const char **why);

#endif
