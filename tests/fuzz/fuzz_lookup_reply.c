/* fuzz_lookup_reply.c: libFuzzer target for the gntemu LOOKUP reply parser (emulation.md 3.2). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gntemu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: byte 0 picks the number of fds that came with the reply (-1 for
 * truncated control data, 0..3), bytes 1..4 the ref that was asked for
 * (little-endian), the rest is the reply as received (any length).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gntemu_run run;
	const char *why = NULL;
	uint32_t ref;
	int nfds, rc;

	if (size < 5) {
		return 0;
	}
	nfds = (int)(data[0] % 5) - 1;
	ref = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
	rc = gntemu_parse_reply_why(data + 5, size - 5, nfds, ref, &run, &why);
	if (rc != gntemu_parse_reply(data + 5, size - 5, nfds, ref, &run)) {
		abort(); /* the two entry points disagree */
	}
	if (rc == 0) {
		/* what the grantee relies on afterwards: exactly one fd, ref inside a run that does not wrap */
		if (nfds != 1 || size - 5 != GNTEMU_REPLY_LEN || ref < run.first || ref - run.first >= run.count ||
				(uint64_t)run.first + run.count > ((uint64_t)1 << 32)) {
			abort();
		}
	} else if (rc == -ENOENT) {
		if (nfds != 0 || run.first != 0 || run.count != 0 || run.pgoff != 0) {
			abort();
		}
	} else if (rc != -EPROTO || why == NULL || run.first != 0 || run.count != 0 || run.pgoff != 0) {
		abort();
	}
	return 0;
}
