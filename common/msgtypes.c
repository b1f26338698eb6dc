/*
 * The typed pairs of common/msgtypes.h: one table per struct says which
 * member goes under which key, with its kind and bound; one encoder and
 * one decoder walk the tables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msgtypes.h"

#define MEMBER_SIZE(st, m)	sizeof(((struct st *)0)->m)

#define F_STR(st, m)		{ #m, MF_STR, 0, offsetof(struct st, m), \
				  MEMBER_SIZE(st, m), 0, 0, NULL }
#define F_OPTSTR(st, m)		{ #m, MF_STR, 1, offsetof(struct st, m), \
				  MEMBER_SIZE(st, m), 0, 0, NULL }
#define F_DSTR(st, m, max)	{ #m, MF_DSTR, 0, offsetof(struct st, m), \
				  MEMBER_SIZE(st, m), 0, max, NULL }
#define F_U64(st, m)		{ #m, MF_U64, 0, offsetof(struct st, m), \
				  MEMBER_SIZE(st, m), 0, 0, NULL }
#define F_BOOL(st, m)		{ #m, MF_BOOL, 0, offsetof(struct st, m), \
				  MEMBER_SIZE(st, m), 0, 1, NULL }
#define F_ENUM(st, m, max)	{ #m, MF_ENUM, 0, offsetof(struct st, m), \
				  MEMBER_SIZE(st, m), 0, max, NULL }
#define F_STRS(st, m, n, max)	{ #m, MF_STRS, 0, offsetof(struct st, m), \
				  sizeof(*((struct st *)0)->m), \
				  offsetof(struct st, n), max, NULL }
#define F_ARRAY(st, m, n, max, el) { #m, MF_ARRAY, 0, offsetof(struct st, m), \
				  sizeof(*((struct st *)0)->m), \
				  offsetof(struct st, n), max, &el }
#define F_BIN(st, m, n, max)	{ #m, MF_BIN, 0, offsetof(struct st, m), 1, \
				  offsetof(struct st, n), max, NULL }
#define F_FD(st, m)		{ #m, MF_FD, 0, offsetof(struct st, m), \
				  MEMBER_SIZE(st, m), 0, 0, NULL }

#define LAYOUT(st, ...)							\
	static const struct msg_field st##_fields[] = { __VA_ARGS__ };	\
	static const struct msg_layout st##_layout = { #st, st##_fields, \
	    sizeof(st##_fields) / sizeof(st##_fields[0]), sizeof(struct st) }

LAYOUT(game_entry,
	F_STR(game_entry, id),
	F_STR(game_entry, version),
	F_STR(game_entry, availability),
	F_BOOL(game_entry, downloaded),
	F_BOOL(game_entry, installed),
	F_U64(game_entry, size));
LAYOUT(file_entry,
	F_DSTR(file_entry, path, PATH_MAX - 1),
	F_U64(file_entry, size));
LAYOUT(file_stat,
	F_DSTR(file_stat, path, PATH_MAX - 1),
	F_U64(file_stat, size),
	F_U64(file_stat, mtime_ns),
	F_U64(file_stat, ino));
LAYOUT(manifest_file,
	F_DSTR(manifest_file, path, PATH_MAX - 1),
	F_U64(manifest_file, size),
	F_BIN(manifest_file, hashes, hashes_len, MANIFEST_MAX_HASHES));
LAYOUT(piece_ref,
	F_DSTR(piece_ref, path, PATH_MAX - 1),
	F_U64(piece_ref, offset),
	F_U64(piece_ref, length));
LAYOUT(fetch_source,
	F_STR(fetch_source, peer_id),
	F_STR(fetch_source, addr),
	F_STR(fetch_source, ticket),
	F_BOOL(fetch_source, partial));

LAYOUT(game_ref, F_STR(game_ref, game_id));
LAYOUT(error_text, F_STR(error_text, error));
LAYOUT(link_fd,
	F_FD(link_fd, fd),
	F_STR(link_fd, peer_id));
LAYOUT(game_pipe, F_STR(game_pipe, game_id), F_FD(game_pipe, fd));
LAYOUT(game_list,
	F_ARRAY(game_list, games, ngames, GAMELIST_MAX, game_entry_layout));
LAYOUT(game_ids,
	F_STRS(game_ids, games, ngames, GAMELIST_MAX));

LAYOUT(net_listen,
	F_STR(net_listen, addr),
	F_BOOL(net_listen, mdns),
	F_BOOL(net_listen, exchange));
LAYOUT(peer_addrs, F_STRS(peer_addrs, addrs, naddrs, PEER_ADDRS_MAX));
LAYOUT(net_ready, F_STR(net_ready, addr), F_STR(net_ready, bound));
LAYOUT(net_connect, F_U64(net_connect, req), F_STR(net_connect, addr));
LAYOUT(net_connect_done,
	F_U64(net_connect_done, req),
	F_OPTSTR(net_connect_done, error));
LAYOUT(net_identity,
	F_STR(net_identity, peer_id),
	F_STR(net_identity, name),
	F_STR(net_identity, public_key));
LAYOUT(net_sign,
	F_U64(net_sign, req),
	F_BOOL(net_sign, as_listener),
	F_STR(net_sign, challenge),
	F_STR(net_sign, verifier_id));
LAYOUT(net_signed,
	F_U64(net_signed, req),
	F_OPTSTR(net_signed, proof));
LAYOUT(net_peer_up,
	F_STR(net_peer_up, peer_id),
	F_STR(net_peer_up, name),
	F_STR(net_peer_up, addr),
	F_STR(net_peer_up, public_key),
	F_STR(net_peer_up, xfer_ticket),
	F_ARRAY(net_peer_up, games, ngames, GAMELIST_MAX, game_entry_layout));
LAYOUT(net_peer_library,
	F_STR(net_peer_library, peer_id),
	F_ARRAY(net_peer_library, games, ngames, GAMELIST_MAX,
	    game_entry_layout));
LAYOUT(net_peer_down,
	F_STR(net_peer_down, peer_id),
	F_STR(net_peer_down, reason));

LAYOUT(catalog_have,
	F_STR(catalog_have, key),
	F_U64(catalog_have, serial));
LAYOUT(catalog_req, F_U64(catalog_req, serial));
LAYOUT(catalog_blob,
	F_BIN(catalog_blob, catalog, catalog_len, MSG_MAX_CATALOG));
LAYOUT(net_catalog,
	F_STR(net_catalog, key),
	F_U64(net_catalog, serial),
	F_BIN(net_catalog, catalog, catalog_len, MSG_MAX_CATALOG));
LAYOUT(net_catalog_fetch,
	F_STR(net_catalog_fetch, peer_id),
	F_U64(net_catalog_fetch, serial));
LAYOUT(net_peer_catalog_have,
	F_STR(net_peer_catalog_have, peer_id),
	F_STR(net_peer_catalog_have, key),
	F_U64(net_peer_catalog_have, serial));
LAYOUT(net_peer_catalog,
	F_STR(net_peer_catalog, peer_id),
	F_BIN(net_peer_catalog, catalog, catalog_len, MSG_MAX_CATALOG));

LAYOUT(xfer_hello,
	F_STR(xfer_hello, games_dir),
	F_STR(xfer_hello, peer_id),
	F_BOOL(xfer_hello, cleanup),
	F_STRS(xfer_hello, catalog, ncatalog, GAMELIST_MAX));
LAYOUT(traffic_host,
	F_STR(traffic_host, peer_id),
	F_U64(traffic_host, sent),
	F_U64(traffic_host, received));
LAYOUT(xfer_traffic,
	F_U64(xfer_traffic, sent),
	F_U64(xfer_traffic, received),
	F_ARRAY(xfer_traffic, hosts, nhosts, MSG_MAX_TRAFFIC_HOSTS,
	    traffic_host_layout));
LAYOUT(xfer_limits,
	F_U64(xfer_limits, upload),
	F_U64(xfer_limits, download),
	F_U64(xfer_limits, upload_slots));
LAYOUT(xfer_fetch,
	F_STR(xfer_fetch, game_id),
	F_STR(xfer_fetch, version),
	F_ARRAY(xfer_fetch, sources, nsources, MSG_MAX_SOURCES,
	    fetch_source_layout),
	F_ENUM(xfer_fetch, mode, FETCH_MODE_MAX),
	F_U64(xfer_fetch, max_total),
	F_ARRAY(xfer_fetch, pieces, npieces, MSG_MAX_PIECE_REFS,
	    piece_ref_layout));
LAYOUT(xfer_sources,
	F_STR(xfer_sources, game_id),
	F_ARRAY(xfer_sources, sources, nsources, MSG_MAX_SOURCES,
	    fetch_source_layout));
LAYOUT(file_list,
	F_STR(file_list, game_id),
	F_ARRAY(file_list, files, nfiles, MSG_MAX_FILES, file_entry_layout));
LAYOUT(xfer_begin,
	F_STR(xfer_begin, game_id),
	F_U64(xfer_begin, total_bytes));
LAYOUT(xfer_chunk,
	F_STR(xfer_chunk, game_id),
	F_STR(xfer_chunk, path),
	F_U64(xfer_chunk, offset),
	F_U64(xfer_chunk, length),
	F_STR(xfer_chunk, peer_addr));
LAYOUT(progress,
	F_STR(progress, game_id),
	F_U64(progress, bytes),
	F_U64(progress, total_bytes),
	F_U64(progress, bytes_per_s));
LAYOUT(xfer_done,
	F_STR(xfer_done, game_id),
	F_U64(xfer_done, bytes),
	F_U64(xfer_done, duration_ms),
	F_U64(xfer_done, chunks));
LAYOUT(xfer_failed,
	F_STR(xfer_failed, game_id),
	F_STR(xfer_failed, error),
	F_ENUM(xfer_failed, reason, XFER_END_MAX));
LAYOUT(xfer_outbound,
	F_STR(xfer_outbound, game_id),
	F_U64(xfer_outbound, count));

LAYOUT(manifest,
	F_STR(manifest, game_id),
	F_STR(manifest, version),
	F_U64(manifest, piece_size),
	F_ARRAY(manifest, files, nfiles, MSG_MAX_FILES, manifest_file_layout));
LAYOUT(hash_job,
	F_STR(hash_job, game_id),
	F_U64(hash_job, piece_size),
	F_ARRAY(hash_job, files, nfiles, MSG_MAX_FILES, file_stat_layout));
LAYOUT(file_hashes,
	F_STR(file_hashes, game_id),
	F_STR(file_hashes, path),
	F_U64(file_hashes, size),
	F_U64(file_hashes, mtime_ns),
	F_U64(file_hashes, ino),
	F_U64(file_hashes, piece_size),
	F_BIN(file_hashes, hashes, hashes_len, MANIFEST_MAX_HASHES));
LAYOUT(source_dropped,
	F_STR(source_dropped, game_id),
	F_STR(source_dropped, peer_addr),
	F_STR(source_dropped, reason));
LAYOUT(files_wait,
	F_STR(files_wait, game_id),
	F_U64(files_wait, percent));

LAYOUT(inst_hello,
	F_STR(inst_hello, games_dir),
	F_ENUM(inst_hello, unrar, UNRAR_MODE_MAX),
	F_STR(inst_hello, unrar_path),
	F_BOOL(inst_hello, cleanup),
	F_U64(inst_hello, games_gid));
LAYOUT(inst_play,
	F_STR(inst_play, game_id),
	F_STR(inst_play, username),
	F_STR(inst_play, language));
LAYOUT(inst_done,
	F_STR(inst_done, game_id),
	F_ENUM(inst_done, op, INST_OP_MAX));
LAYOUT(inst_failed,
	F_STR(inst_failed, game_id),
	F_ENUM(inst_failed, op, INST_OP_MAX),
	F_STR(inst_failed, error));
LAYOUT(inst_played,
	F_STR(inst_played, game_id),
	F_BOOL(inst_played, account_name_written),
	F_BOOL(inst_played, language_written),
	F_BOOL(inst_played, persona_name_written));

LAYOUT(web_hello,
	F_FD(web_hello, fd),
	F_STR(web_hello, addr),
	F_OPTSTR(web_hello, token));
LAYOUT(web_line,
	F_U64(web_line, req),
	F_DSTR(web_line, line, WEB_LINE_MAX));

LAYOUT(peer_hello,
	F_U64(peer_hello, proto),
	F_STR(peer_hello, peer_id),
	F_STR(peer_hello, name),
	F_STR(peer_hello, addr),
	F_STR(peer_hello, public_key),
	F_STR(peer_hello, challenge));
LAYOUT(peer_hello_ack,
	F_U64(peer_hello_ack, proto),
	F_STR(peer_hello_ack, peer_id),
	F_STR(peer_hello_ack, name),
	F_STR(peer_hello_ack, addr),
	F_STR(peer_hello_ack, public_key),
	F_STR(peer_hello_ack, challenge),
	F_STR(peer_hello_ack, proof),
	F_STR(peer_hello_ack, ticket),
	F_ARRAY(peer_hello_ack, games, ngames, GAMELIST_MAX,
	    game_entry_layout));
LAYOUT(peer_hello_proof,
	F_STR(peer_hello_proof, proof),
	F_STR(peer_hello_proof, ticket),
	F_ARRAY(peer_hello_proof, games, ngames, GAMELIST_MAX,
	    game_entry_layout));
LAYOUT(peer_xfer_open,
	F_U64(peer_xfer_open, proto),
	F_STR(peer_xfer_open, peer_id),
	F_STR(peer_xfer_open, ticket));
LAYOUT(peer_chunk,
	F_STR(peer_chunk, game_id),
	F_STR(peer_chunk, path),
	F_U64(peer_chunk, offset),
	F_U64(peer_chunk, length));
LAYOUT(swarm_req,
	F_STR(swarm_req, game_id),
	F_STR(swarm_req, root));
LAYOUT(swarm_have,
	F_STR(swarm_have, game_id),
	F_BIN(swarm_have, bits, bits_len, MSG_MAX_HAVE_BITS));
LAYOUT(piece_have, F_BIN(piece_have, pieces, pieces_len, 4 * MSG_MAX_HAVES));
LAYOUT(peer_entry,
	F_STR(peer_entry, path),
	F_U64(peer_entry, size));
LAYOUT(peer_entry_sum,
	F_U64(peer_entry_sum, crc32));
LAYOUT(peer_stream_end,
	F_U64(peer_stream_end, entries),
	F_U64(peer_stream_end, bytes));

/* Enum members are read and written as int. */
_Static_assert(sizeof(enum xfer_end) == sizeof(int), "enum size");
_Static_assert(sizeof(enum inst_op) == sizeof(int), "enum size");
_Static_assert(sizeof(enum fetch_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum unrar_mode) == sizeof(int), "enum size");

const char *
xfer_end_str(enum xfer_end e)
{
	static const char *const names[XFER_END_MAX] = {
		[XFER_END_FAILED] = "failed",
		[XFER_END_PEERS_GONE] = "peers-gone",
		[XFER_END_CANCELLED] = "cancelled",
	};

	return (unsigned)e < XFER_END_MAX ? names[e] : "unknown";
}

const char *
msg_type_str(uint32_t type)
{
	switch (type) {
#define NAME_BODY(name, st, t)	case t: return #t + 4;
#define NAME_EMPTY(name, t)	case t: return #t + 4;
	MSG_BODIES(NAME_BODY)
	MSG_EMPTIES(NAME_EMPTY)
#undef NAME_BODY
#undef NAME_EMPTY
	}
	return "UNKNOWN";
}

const struct msg_layout *
msg_layout(uint32_t type)
{
	switch (type) {
#define LAYOUT_OF(name, st, t)	case t: return &st##_layout;
	MSG_BODIES(LAYOUT_OF)
#undef LAYOUT_OF
	}
	return NULL;
}

static size_t *
count_at(void *s, const struct msg_field *f)
{
	return (size_t *)((char *)s + f->count_off);
}

static void
layout_free(const struct msg_layout *l, void *s)
{
	size_t	 i, j;

	for (i = 0; i < l->nfields; i++) {
		const struct msg_field *f = &l->fields[i];
		void	**p = (void **)((char *)s + f->off);

		switch (f->kind) {
		case MF_DSTR:
			free(*p);
			*p = NULL;
			break;
		case MF_ARRAY:
			for (j = 0; *p != NULL && j < *count_at(s, f); j++)
				layout_free(f->elem,
				    (char *)*p + j * f->size);
			/* FALLTHROUGH */
		case MF_STRS:
		case MF_BIN:
			free(*p);
			*p = NULL;
			*count_at(s, f) = 0;
			break;
		default:
			break;
		}
	}
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	size_t	 len = s != NULL ? strlen(s) : 0;

	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

static int
field_omitted(const struct msg_field *f, const void *s)
{
	return f->kind == MF_FD ||
	    (f->optional && ((const char *)s + f->off)[0] == '\0');
}

static int
encode(msgpack_packer *pk, const struct msg_layout *l, const void *s)
{
	const char	*base = s;
	size_t		 i, j, n = 0;

	for (i = 0; i < l->nfields; i++)
		n += !field_omitted(&l->fields[i], s);
	msgpack_pack_map(pk, n);
	for (i = 0; i < l->nfields; i++) {
		const struct msg_field *f = &l->fields[i];
		const void *p = base + f->off;
		uint64_t v;

		if (field_omitted(f, s))
			continue;
		pack_str(pk, f->key);
		switch (f->kind) {
		case MF_STR:
			if (memchr(p, '\0', f->size) == NULL)
				return -1;
			pack_str(pk, p);
			break;
		case MF_DSTR:
			if (*(char *const *)p != NULL &&
			    strlen(*(char *const *)p) > f->max)
				return -1;
			pack_str(pk, *(char *const *)p);
			break;
		case MF_U64:
			msgpack_pack_uint64(pk, *(const uint64_t *)p);
			break;
		case MF_BOOL:
			if (*(const int *)p)
				msgpack_pack_true(pk);
			else
				msgpack_pack_false(pk);
			break;
		case MF_ENUM:
			v = (unsigned)*(const int *)p;
			if (v >= f->max)
				return -1;
			msgpack_pack_uint64(pk, v);
			break;
		case MF_STRS:
		case MF_ARRAY:
			n = *(const size_t *)(base + f->count_off);
			if (n > f->max)
				return -1;
			msgpack_pack_array(pk, n);
			for (j = 0; j < n; j++) {
				const char *e = *(char *const *)p + j * f->size;

				if (f->kind == MF_ARRAY) {
					if (encode(pk, f->elem, e) == -1)
						return -1;
				} else if (memchr(e, '\0', f->size) == NULL)
					return -1;
				else
					pack_str(pk, e);
			}
			break;
		case MF_BIN:
			n = *(const size_t *)(base + f->count_off);
			if (n > f->max)
				return -1;
			msgpack_pack_bin(pk, n);
			msgpack_pack_bin_body(pk, *(char *const *)p, n);
			break;
		case MF_FD:
			break;
		}
	}
	return 0;
}

/* A string object into buf: no NUL inside, and it must fit. */
static int
get_str(const msgpack_object *o, char *buf, size_t size)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size ||
	    memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
		return -1;
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	return 0;
}

static int	decode(const msgpack_object *, const struct msg_layout *,
    void *,
		    char *, size_t);

static int
decode_field(const msgpack_object *o, const struct msg_field *f, void *s,
    char *err, size_t errsz)
{
	char		*p = (char *)s + f->off;
	uint32_t	 i, n;

	switch (f->kind) {
	case MF_STR:
		if (get_str(o, p, f->size) == -1)
			return seterr(err, errsz,
			    "%s: not a string of under %zu bytes",
			    f->key, f->size);
		return 0;
	case MF_DSTR:
		if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > f->max ||
		    (*(char **)p = malloc(o->via.str.size + 1)) == NULL ||
		    get_str(o, *(char **)p, o->via.str.size + 1) == -1)
			return seterr(err, errsz,
			    "%s: not a string of at most %llu bytes",
			    f->key, (unsigned long long)f->max);
		return 0;
	case MF_U64:
	case MF_ENUM:
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    (f->kind == MF_ENUM && o->via.u64 >= f->max))
			return seterr(err, errsz, "%s: not a number in range",
			    f->key);
		if (f->kind == MF_ENUM)
			*(int *)p = (int)o->via.u64;
		else
			*(uint64_t *)p = o->via.u64;
		return 0;
	case MF_BOOL:
		if (o->type != MSGPACK_OBJECT_BOOLEAN)
			return seterr(err, errsz, "%s: not a boolean", f->key);
		*(int *)p = o->via.boolean;
		return 0;
	case MF_STRS:
	case MF_ARRAY:
		if (o->type != MSGPACK_OBJECT_ARRAY ||
		    o->via.array.size > f->max)
			return seterr(err, errsz,
			    "%s: not an array of at most %llu",
			    f->key, (unsigned long long)f->max);
		n = o->via.array.size;
		if (n == 0)
			return 0;
		if ((*(void **)p = calloc(n, f->size)) == NULL)
			return seterr(err, errsz, "%s: out of memory", f->key);
		*count_at(s, f) = n;
		for (i = 0; i < n; i++) {
			char	*e = *(char **)p + i * f->size;
			char	 inner[128];

			if (f->kind == MF_STRS) {
				if (get_str(&o->via.array.ptr[i], e,
				    f->size) == -1)
					return seterr(err, errsz,
					    "%s[%u]: not a string "
					    "of under %zu bytes", f->key, i,
					    f->size);
			} else if (decode(&o->via.array.ptr[i], f->elem, e,
			    inner, sizeof(inner)) == -1)
				return seterr(err, errsz, "%s[%u].%s", f->key,
				    i, inner);
		}
		return 0;
	case MF_BIN:
		if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size > f->max)
			return seterr(err, errsz,
			    "%s: not bytes, at most %llu", f->key,
			    (unsigned long long)f->max);
		if ((n = o->via.bin.size) == 0)
			return 0;
		if ((*(void **)p = malloc(n)) == NULL)
			return seterr(err, errsz, "%s: out of memory", f->key);
		memcpy(*(void **)p, o->via.bin.ptr, n);
		*count_at(s, f) = n;
		return 0;
	case MF_FD:
		break;
	}
	return seterr(err, errsz, "%s: a descriptor cannot be a field",
	    f->key);
}

/*
 * Fills s (zeroed by the caller) from a map; returns 0, or -1 with err
 * filled, having left what it allocated for the caller to free.
 */
static int
decode(const msgpack_object *map, const struct msg_layout *l, void *s,
    char *err, size_t errsz)
{
	uint64_t	 seen = 0;
	uint32_t	 i;
	size_t		 k;

	if (map->type != MSGPACK_OBJECT_MAP)
		return seterr(err, errsz, "not a map");
	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR)
			return seterr(err, errsz, "a key is not a string");
		for (k = 0; k < l->nfields; k++)
			if (l->fields[k].kind != MF_FD &&
			    strlen(l->fields[k].key) == kv->key.via.str.size &&
			    memcmp(l->fields[k].key, kv->key.via.str.ptr,
			    kv->key.via.str.size) == 0)
				break;
		if (k == l->nfields)
			return seterr(err, errsz, "unknown field %.*s",
			    (int)(kv->key.via.str.size > 32 ? 32 :
			    kv->key.via.str.size), kv->key.via.str.ptr);
		if (seen & (1ULL << k))
			return seterr(err, errsz, "%s twice", l->fields[k].key);
		seen |= 1ULL << k;
		if (decode_field(&kv->val, &l->fields[k], s, err, errsz) == -1)
			return -1;
	}
	for (k = 0; k < l->nfields; k++)
		if (!(seen & (1ULL << k)) && l->fields[k].kind != MF_FD &&
		    !l->fields[k].optional)
			return seterr(err, errsz, "%s missing",
			    l->fields[k].key);
	return 0;
}

static int
body_send(struct msgconn *c, uint32_t type, const struct msg_layout *l,
    const void *s)
{
	struct msgout	 m;
	size_t		 i;
	int		 fd = -1;

	for (i = 0; l != NULL && i < l->nfields; i++)
		if (l->fields[i].kind == MF_FD)
			fd = *(const int *)((const char *)s + l->fields[i].off);
	msgout_start(&m, type);
	if (l != NULL && encode(&m.pk, l, s) == -1) {
		log_warnx("%s: refusing to send a %s out of its bounds",
		    __func__, msg_type_str(type));
		msgout_free(&m);
		if (fd != -1)
			close(fd);
		errno = EINVAL;
		return -1;
	}
	if (l == NULL)
		msgpack_pack_map(&m.pk, 0);
	return msgconn_send(c, &m, fd);
}

static int
body_frame(uint32_t type, const struct msg_layout *l, const void *s,
    char **buf, size_t *len)
{
	struct msgout	 m;

	msgout_start(&m, type);
	if (l != NULL && encode(&m.pk, l, s) == -1) {
		msgout_free(&m);
		errno = EINVAL;
		return -1;
	}
	if (l == NULL)
		msgpack_pack_map(&m.pk, 0);
	return msgout_frame(&m, buf, len);
}

/* Decodes m into s; -1 with err filled when it is refused. */
static int
body_recv(struct msg *m, uint32_t type, const struct msg_layout *l, void *s,
    char *err, size_t errsz)
{
	size_t	 i;

	if (l != NULL)
		memset(s, 0, l->size);
	if (m->type != type)
		return seterr(err, errsz, "a %s where a %s belongs",
		    msg_type_str(m->type), msg_type_str(type));
	if (l == NULL) {
		if (m->body->type != MSGPACK_OBJECT_MAP ||
		    m->body->via.map.size != 0)
			return seterr(err, errsz, "a body where none belongs");
		return 0;
	}
	for (i = 0; i < l->nfields; i++)
		if (l->fields[i].kind == MF_FD)
			*(int *)((char *)s + l->fields[i].off) = -1;
	if (decode(m->body, l, s, err, errsz) == -1) {
		layout_free(l, s);
		return -1;
	}
	for (i = 0; i < l->nfields; i++)
		if (l->fields[i].kind == MF_FD) {
			if (m->fd == -1) {
				layout_free(l, s);
				return seterr(err, errsz, "descriptor missing");
			}
			*(int *)((char *)s + l->fields[i].off) =
			    msg_take_fd(m);
		}
	return 0;
}

#define DEFINE_BODY(name, st, type)					\
int									\
msg_send_##name(struct msgconn *c, const struct st *s)			\
{									\
	return body_send(c, type, &st##_layout, s);			\
}									\
int									\
msg_recv_##name(struct msg *m, struct st *s, char *err, size_t errsz)	\
{									\
	return body_recv(m, type, &st##_layout, s, err, errsz);		\
}									\
int									\
msg_frame_##name(const struct st *s, char **buf, size_t *len)		\
{									\
	return body_frame(type, &st##_layout, s, buf, len);		\
}									\
void									\
msg_free_##name(struct st *s)						\
{									\
	layout_free(&st##_layout, s);					\
}
#define DEFINE_EMPTY(name, type)					\
int									\
msg_send_##name(struct msgconn *c)					\
{									\
	return body_send(c, type, NULL, NULL);				\
}									\
int									\
msg_recv_##name(struct msg *m, char *err, size_t errsz)		\
{									\
	return body_recv(m, type, NULL, NULL, err, errsz);		\
}									\
int									\
msg_frame_##name(char **buf, size_t *len)				\
{									\
	return body_frame(type, NULL, NULL, buf, len);			\
}
MSG_BODIES(DEFINE_BODY)
MSG_EMPTIES(DEFINE_EMPTY)
