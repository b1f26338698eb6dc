/*
 * What the libFuzzer targets of fuzz/ share: the entry points libFuzzer
 * calls, and the typed decoding of any message (fuzzhelp.c).
 */
#ifndef LANSPREAD_FUZZ_H
#define LANSPREAD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

/* Every message type with a typed decoder: MSG_BODIES, then MSG_EMPTIES. */
size_t		 fuzz_ntypes(void);
uint32_t	 fuzz_type(size_t);

/*
 * Decodes m with its type's msg_recv_<name>(). What it accepts must encode
 * again (msg_frame_<name>), and that encoding must decode to the same
 * encoding; a refusal must say why. Any of these failing aborts.
 * Returns 0 when m was accepted, -1 when refused or of no known type.
 */
int	fuzz_decode(struct msg *);

/* A new descriptor (on /dev/null), to stand for one a message carries. */
int	fuzz_fd(void);

#endif
