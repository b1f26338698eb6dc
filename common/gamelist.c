/* Packing and strict decoding of advertised libraries. */
#include <stdlib.h>
#include <string.h>

#include "common/gamelist.h"
#include "common/msg.h"
#include "common/path.h"

void
gamelist_pack(msgpack_packer *pk, const struct game_entry *g, size_t n)
{
	size_t	 i;

	msgpack_pack_array(pk, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_map(pk, 6);
		mp_pack_str(pk, "id");
		mp_pack_str(pk, g[i].id);
		mp_pack_str(pk, "version");
		mp_pack_str(pk, g[i].version);
		mp_pack_str(pk, "availability");
		mp_pack_str(pk, g[i].availability);
		mp_pack_str(pk, "downloaded");
		g[i].downloaded ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		mp_pack_str(pk, "installed");
		g[i].installed ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		mp_pack_str(pk, "size");
		msgpack_pack_uint64(pk, g[i].size);
	}
}

int
gamelist_decode(const msgpack_object *arr, struct game_entry **out,
    size_t *nout, const char **why)
{
	struct game_entry *games;
	uint32_t	 i, j;

	*out = NULL;
	*nout = 0;
	if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY) {
		*why = "games is not an array";
		return -1;
	}
	if (arr->via.array.size > GAMELIST_MAX) {
		*why = "too many games";
		return -1;
	}
	if (arr->via.array.size == 0)
		return 0;
	if ((games = calloc(arr->via.array.size, sizeof(*games))) == NULL) {
		*why = "out of memory";
		return -1;
	}
	for (i = 0; i < arr->via.array.size; i++) {
		const msgpack_object *o = &arr->via.array.ptr[i];
		struct game_entry *g = &games[i];

		if (mp_get_str(o, "id", g->id, sizeof(g->id)) == -1 ||
		    !path_is_valid_game_id(g->id)) {
			*why = "bad game id";
			goto bad;
		}
		if (mp_get_str(o, "version", g->version,
		    sizeof(g->version)) == -1 ||
		    mp_get_str(o, "availability", g->availability,
		    sizeof(g->availability)) == -1 ||
		    (strcmp(g->availability, "Ready") != 0 &&
		    strcmp(g->availability, "LocalOnly") != 0) ||
		    mp_get_bool(o, "downloaded", &g->downloaded) == -1 ||
		    mp_get_bool(o, "installed", &g->installed) == -1 ||
		    mp_get_u64(o, "size", &g->size) == -1) {
			*why = "bad game entry";
			goto bad;
		}
		for (j = 0; j < i; j++)
			if (strcmp(games[j].id, g->id) == 0) {
				*why = "duplicate game id";
				goto bad;
			}
	}
	*out = games;
	*nout = arr->via.array.size;
	return 0;
bad:
	free(games);
	return -1;
}
