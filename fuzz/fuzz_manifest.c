/*
 * Manifests, as a source's PEER_FILES answer or a kept download's
 * .lanspread.manifest brings them: the body through its typed decoder,
 * then manifest_check(). What the check accepts must hold what it
 * promises (sorted unique paths within the depth and length limits,
 * one hash per piece, version.ini there), be found again by manifest_find(), and come back from disk
 * (partial_save_manifest, partial_load_manifest) with the same root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>

#include "common/manifest.h"
#include "common/msgtypes.h"
#include "common/partial.h"
#include "common/path.h"
#include "fuzz/fuzz.h"

static char	 dir[] = "/tmp/fuzz-manifest.XXXXXX";
static int	 dirfd_tmp = -1;

static void
remove_dir(void)
{
	unlinkat(dirfd_tmp, PARTIAL_MANIFEST, 0);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hash_init();
	if (mkdtemp(dir) == NULL ||
	    (dirfd_tmp = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	atexit(remove_dir);
	return 0;
}

static void
check_promises(const struct manifest *m)
{
	size_t	 i;
	int	 version = 0;

	for (i = 0; i < m->nfiles; i++) {
		if (i > 0 && strcmp(m->files[i - 1].path, m->files[i].path) >= 0)
			abort();
		if (m->files[i].hashes_len != HASH_SIZE *
		    manifest_pieces(m->files[i].size, m->piece_size))
			abort();
		if (manifest_find(m, m->files[i].path) != (long)i)
			abort();
		if (path_check_peer_limits(m->files[i].path, NULL, 0) != 0)
			abort();
		version |= strcmp(m->files[i].path, VERSION_FILE) == 0;
	}
	if (!version || manifest_find(m, "no/such/file") != -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked up;
	struct manifest	 m, back;
	struct msg	 msg;
	unsigned char	 a[HASH_SIZE], b[HASH_SIZE];
	char		 err[ERROR_SIZE];

	if (msg_unpack_body((const char *)data, size, &up) == -1)
		return 0;
	msg.type = MSG_PEER_FILES;
	msg.fd = -1;
	msg.body = &up.data;
	if (msg_recv_peer_files(&msg, &m, err, sizeof(err)) == 0) {
		if (manifest_check(&m, err, sizeof(err)) == 0) {
			check_promises(&m);
			manifest_root(&m, a);
			if (partial_save_manifest(dirfd_tmp, &m, err,
			    sizeof(err)) == -1 ||
			    partial_load_manifest(dirfd_tmp, &back, err,
			    sizeof(err)) == -1)
				abort();
			manifest_root(&back, b);
			if (memcmp(a, b, HASH_SIZE) != 0)
				abort();
			manifest_free(&back);
		} else if (err[0] == '\0')
			abort();	/* a refusal says why */
		manifest_free(&m);
	}
	msgpack_unpacked_destroy(&up);
	return 0;
}
