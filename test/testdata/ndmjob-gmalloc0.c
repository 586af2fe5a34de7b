/*
 * A fix for Debian's ndmjob (Amanda 3.5.1), loaded with LD_PRELOAD by
 * test/ndmp_test.go: ndmjob allocates with g_malloc, which returns NULL for
 * 0 bytes, and its NDMPv4 translation of TAPE_WRITE takes a NULL copy of
 * the data as a failure. So the zero-length TAPE_WRITE of test-tape's step
 * T-BW #6 is never sent: ndmjob answers itself NDMP4_NOT_SUPPORTED_ERR
 * ("ERR-AGENT") and, stopping at the first failure, never runs T-BR to
 * T-MTIO, against any server. With this g_malloc a zero-byte allocation is
 * a one-byte one (freed by g_free, which is free since GLib 2.46), the
 * request goes out and the server answers it.
 */
#include <stdlib.h>

void *g_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}
