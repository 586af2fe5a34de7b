/*
 * LD_PRELOAD shim for Amanda 3.5.1's ndmjob (the DMA), not for the server.
 *
 * test-tape fills each record of T-WRITE with a repeated 16-byte header
 * (file number, sequence, record number) built in a local struct whose
 * 4 padding bytes are never initialized, then T-READ rebuilds the expected
 * record the same way and compares: the padding holds whatever the stack
 * held, which differs between the two calls, so T-READ fails at a random
 * record whatever the server returns. This shim builds the same pattern
 * with the padding zeroed.
 */
#include <stdint.h>
#include <string.h>

int ndmca_test_fill_data(char *buf, int bufsize, int recno, int fileno)
{
	struct {
		uint16_t fileno, sequence;
		uint32_t padding;
		unsigned long recno;
	} x;
	uint16_t sequence = 0;
	int off;

	memset(&x, 0, sizeof x);
	x.fileno = (uint16_t)fileno;
	x.recno = (unsigned long)recno;
	for (off = 0; off < bufsize; off += (int)sizeof x) {
		int n = bufsize - off;

		if (n > (int)sizeof x)
			n = (int)sizeof x;
		x.sequence = sequence++;
		memcpy(buf + off, &x, (size_t)n);
	}
	return 0;
}
