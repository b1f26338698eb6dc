#!/usr/bin/python3
"""Check the generated fixtures: check_fixture_archives.py FIXTURES_DIR

For every .eti under FIXTURES_DIR (as written by fixtures/mkfixtures.py):
  * the RAR signature and format (bfbc2.eti is RAR 4.x, every other is RAR 5)
    and the solid flag (set only on fixture-solid's archive);
  * `bsdtar -tvf` succeeds and lists the expected entries, types and sizes;
  * `bsdtar -xOf ARCHIVE ENTRY` gives each entry's expected bytes (sha256);
  * `bsdtar -xf` into a temporary directory gives the expected tree;
  * Debian's python3-rarfile (rarfile.RarFile) lists the same entries and
    reads every member with the expected bytes and CRC32.
The expectations come from FIXTURES_DIR/manifest.json (sha256 of the data
the generator fed to its RAR writer, not read back from the archives) plus
the fixed facts of SPEC.md ("Fixtures"), which are repeated here.

It also checks game.db, version.ini files, the folder layout, and that the
checks can fail: corrupted copies of archives must be rejected.

Prints one line per check; exits 1 if any check failed.
Needs /usr/bin/python3 (the interpreter python3-rarfile is installed for):
started with another python that lacks rarfile, it re-executes itself.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import rarfile
except ImportError:  # pyenv & co: retry with Debian's python
    if (os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and os.path.exists(SYSTEM_PYTHON)
            and not os.environ.get("LANSPREAD_FIXTURE_CHECK_REEXEC")):
        os.environ["LANSPREAD_FIXTURE_CHECK_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    sys.stderr.write("check_fixture_archives: the rarfile module is missing "
                     "(apt-get install python3-rarfile; run with %s)\n"
                     % SYSTEM_PYTHON)
    sys.exit(2)

MIB = 1 << 20
CHUNK_SIZE = 128 * MIB
RAR4_SIG = b"Rar!\x1a\x07\x00"
RAR5_SIG = b"Rar!\x1a\x07\x01\x00"

# --- facts from SPEC.md, independent of the generator -------------------------
CATALOG = {
    "alienswarm": "20190317", "bf1942": "20160130", "bfbc2": "20210416",
    "cnc4": "20170204", "cnctw": "20160128", "cod5": "20160920",
    "cod6": "20200315", "coh": "20200907", "css": "20240623",
    "ggoo": "20200721",
}
LAYOUT = {
    "fixture-alpha": {"alienswarm", "bf1942", "ggoo"},
    "fixture-bravo": {"bfbc2", "cnc4", "cnctw", "ggoo"},
    "fixture-solid": {"cnctw"},
    "fixture-multi": {"cnctw"},
    "fixture-extra": {"cod5", "coh", "css"},
}
RAR4_ARCHIVES = {"fixture-bravo/bfbc2/bfbc2.eti"}
SOLID_ARCHIVES = {"fixture-solid/cnctw/cnctw.eti"}
# Archives whose regular entries are pinned exactly: name -> bytes or size.
PINNED = {
    "fixture-bravo/cnctw/cnctw.eti": {
        "bin/cnctw-payload.bin": None, "data/cnctw-assets.dat": None},
    "fixture-solid/cnctw/cnctw.eti": {
        "bin/cnctw-solid-payload.bin": None,
        "data/cnctw-solid-assets.dat": None},
    "fixture-multi/cnctw/a-first.eti": {
        "order/first.txt": b"first archive payload\n"},
    "fixture-multi/cnctw/z-second.eti": {
        "order/second.txt": b"second archive payload\n"},
}
CSS_FILES = {
    "profiles/local/account_name.txt": None,
    "profiles/local/language.txt": None,
    "engine/bin/win64/steam_settings/SmartSteamEmu.ini":
        b"[Settings]\r\nAppId = 240\r\nPersonaName = stubplayer\r\n"
        b"Language = english\r\n",
}


class Report:
    """Collects check results; prints them as they come unless quiet."""

    def __init__(self, quiet=False):
        self.quiet = quiet
        self.passed = 0
        self.failed = []

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed.append(what + (": " + detail if detail else ""))
        if not self.quiet:
            line = "%s %s" % ("ok  " if ok else "FAIL", what)
            if detail and not ok:
                line += ": " + detail
            print(line, flush=True)
        return ok


def sha256_stream(stream):
    h = hashlib.sha256()
    for chunk in iter(lambda: stream.read(MIB), b""):
        h.update(chunk)
    return h.hexdigest()


def sha256_path(path):
    with open(path, "rb") as fh:
        return sha256_stream(fh)


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          **kw)


def short(err):
    text = err.decode("utf-8", "replace").strip().replace("\n", " | ")
    return text[:200]


# --- RAR header inspection (our own, minimal) ------------------------------------
def read_vint(buf, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated vint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def main_header_info(path):
    """Return (format, solid) from the signature and the main header."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(RAR5_SIG):
        pos = len(RAR5_SIG)
        crc = struct.unpack_from("<I", head, pos)[0]
        size, body = read_vint(head, pos + 4)
        if zlib.crc32(head[pos + 4:body + size]) & 0xFFFFFFFF != crc:
            raise ValueError("main header CRC mismatch")
        htype, p = read_vint(head, body)
        hflags, p = read_vint(head, p)
        if htype != 1:
            raise ValueError("first header is type %d, not main" % htype)
        if hflags & 0x0001:
            _extra, p = read_vint(head, p)
        if hflags & 0x0002:
            _data, p = read_vint(head, p)
        archive_flags, p = read_vint(head, p)
        return "rar5", bool(archive_flags & 0x0004)
    if head.startswith(RAR4_SIG):
        pos = len(RAR4_SIG)
        crc, htype, hflags, hsize = struct.unpack_from("<HBHH", head, pos)
        if htype != 0x73:
            raise ValueError("first block is 0x%02x, not main" % htype)
        if zlib.crc32(head[pos + 2:pos + hsize]) & 0xFFFF != crc:
            raise ValueError("main header CRC mismatch")
        return "rar4", bool(hflags & 0x0008)
    raise ValueError("no RAR signature")


# --- one archive -----------------------------------------------------------------
def parse_bsdtar_listing(text):
    """bsdtar -tvf output -> list of (name, is_dir, size)."""
    out = []
    for line in text.splitlines():
        fields = line.split(None, 8)
        if len(fields) < 9:
            raise ValueError("unexpected bsdtar line: %r" % line)
        out.append((fields[8].rstrip("/"), fields[0].startswith("d"),
                    int(fields[4])))
    return out


def check_archive(path, label, spec, report):
    """Run every check on one archive against its manifest spec."""
    entries = spec["entries"]
    expected = [(e["name"], e["type"] == "dir", e["size"]) for e in entries]
    files = [e for e in entries if e["type"] == "file"]

    # format and solid flag, by our own reading of the main header
    try:
        fmt, solid = main_header_info(path)
        report.check(fmt == spec["format"], "%s: format is %s" % (label, spec["format"]),
                     "found %s" % fmt)
        report.check(solid == spec["solid"],
                     "%s: main header solid flag is %s" % (label, spec["solid"]),
                     "found %s" % solid)
    except (OSError, ValueError, struct.error) as exc:
        report.check(False, "%s: main header readable" % label, str(exc))

    # bsdtar -tvf
    res = run(["bsdtar", "-tvf", path])
    if report.check(res.returncode == 0, "%s: bsdtar -tvf succeeds" % label,
                    "rc=%d %s" % (res.returncode, short(res.stderr))):
        try:
            listed = parse_bsdtar_listing(res.stdout.decode("utf-8"))
            report.check(listed == expected,
                         "%s: bsdtar lists %d entries (names, types, sizes)"
                         % (label, len(expected)),
                         "got %r want %r" % (listed, expected))
        except ValueError as exc:
            report.check(False, "%s: bsdtar listing parses" % label, str(exc))

    # bsdtar -xOf, entry by entry
    for e in files:
        res = run(["bsdtar", "-xOf", path, e["name"]])
        ok = res.returncode == 0 and sha256_bytes(res.stdout) == e["sha256"] \
            and len(res.stdout) == e["size"]
        report.check(ok, "%s: bsdtar -xOf %s (%d bytes) matches"
                     % (label, e["name"], e["size"]),
                     "rc=%d got %d bytes %s" % (res.returncode, len(res.stdout),
                                               short(res.stderr)))

    # bsdtar -xf into a scratch directory: the whole tree
    with tempfile.TemporaryDirectory(prefix="fixture-x-") as scratch:
        res = run(["bsdtar", "-xf", path, "-C", scratch])
        if report.check(res.returncode == 0, "%s: bsdtar -xf succeeds" % label,
                        "rc=%d %s" % (res.returncode, short(res.stderr))):
            tree = {}
            for root, dirs, names in os.walk(scratch):
                for d in dirs:
                    rel = os.path.relpath(os.path.join(root, d), scratch)
                    tree[rel] = None
                for n in names:
                    full = os.path.join(root, n)
                    tree[os.path.relpath(full, scratch)] = sha256_path(full)
            want = {}
            for e in entries:
                want[e["name"]] = e["sha256"] if e["type"] == "file" else None
                parts = e["name"].split("/")
                for depth in range(1, len(parts)):
                    want.setdefault("/".join(parts[:depth]), None)
            report.check(tree == want, "%s: bsdtar -xf tree matches (%d paths)"
                         % (label, len(want)),
                         "got %r" % sorted(tree))

    # rarfile
    try:
        rf = rarfile.RarFile(path, errors="strict")
        with rf:
            infos = rf.infolist()
            got = [(i.filename.rstrip("/"), i.isdir(), i.file_size) for i in infos]
            report.check(got == expected,
                         "%s: rarfile lists %d entries (names, types, sizes)"
                         % (label, len(expected)),
                         "got %r want %r" % (got, expected))
            main = rf._file_parser._main  # no public solid accessor in 3.1
            rf_solid = bool(main is not None
                            and main.flags & rarfile.RAR_MAIN_SOLID)
            if hasattr(rf, "is_solid"):
                rf_solid = bool(rf.is_solid())
            report.check(rf_solid == spec["solid"],
                         "%s: rarfile reports solid=%s" % (label, spec["solid"]),
                         "got %s" % rf_solid)
            version = rarfile._get_rar_version(path)
            want_version = 3 if spec["format"] == "rar4" else 5
            report.check(version == want_version,
                         "%s: rarfile sees RAR version %s"
                         % (label, "4.x" if want_version == 3 else "5"),
                         "got %r" % version)
            by_name = {i.filename.rstrip("/"): i for i in infos}
            for e in files:
                info = by_name.get(e["name"])
                if info is None:
                    report.check(False, "%s: rarfile reads %s" % (label, e["name"]),
                                 "missing")
                    continue
                try:
                    with rf.open(info) as member:
                        digest = sha256_stream(member)
                    ok = digest == e["sha256"] and info.CRC == e["crc32"] \
                        and info.compress_type == rarfile.RAR_M0
                    report.check(ok, "%s: rarfile reads %s (stored, CRC %08x)"
                                 % (label, e["name"], e["crc32"]),
                                 "sha %s crc %08x method 0x%x"
                                 % (digest, info.CRC, info.compress_type))
                except rarfile.Error as exc:
                    report.check(False, "%s: rarfile reads %s" % (label, e["name"]),
                                 "%s: %s" % (type(exc).__name__, exc))
    except rarfile.Error as exc:
        report.check(False, "%s: rarfile opens it" % label,
                     "%s: %s" % (type(exc).__name__, exc))


# --- the whole tree --------------------------------------------------------------
def find_eti(fixtures):
    found = []
    for root, dirs, names in os.walk(fixtures):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for n in sorted(names):
            if n.endswith(".eti"):
                found.append(os.path.relpath(os.path.join(root, n), fixtures))
    return found


def check_spec_facts(fixtures, manifest, report):
    archives = manifest["archives"]

    # catalog
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % os.path.join(fixtures, "game.db"),
                               uri=True)
        rows = conn.execute("SELECT id, name, version FROM games").fetchall()
        conn.close()
        got = {gid: version for gid, _name, version in rows}
        report.check(got == CATALOG and all(name for _g, name, _v in rows),
                     "game.db: SELECT id, name, version FROM games gives the "
                     "%d catalog games" % len(CATALOG), "got %r" % rows)
    except sqlite3.Error as exc:
        report.check(False, "game.db: readable", str(exc))

    # layout and version.ini
    for fixture, games in sorted(LAYOUT.items()):
        base = os.path.join(fixtures, fixture)
        present = set(os.listdir(base)) if os.path.isdir(base) else set()
        report.check(present == games, "%s: holds games %s" % (fixture, sorted(games)),
                     "got %s" % sorted(present))
        for game in sorted(games):
            vpath = os.path.join(base, game, "version.ini")
            try:
                with open(vpath, "rb") as fh:
                    version = fh.read()
            except OSError as exc:
                version = repr(exc).encode()
            report.check(version == CATALOG[game].encode(),
                         "%s/%s/version.ini is %s" % (fixture, game, CATALOG[game]),
                         "got %r" % version)

    # formats and solid flags as the spec wants them
    for rel in sorted(archives):
        want_fmt = "rar4" if rel in RAR4_ARCHIVES else "rar5"
        report.check(archives[rel]["format"] == want_fmt and
                     archives[rel]["solid"] == (rel in SOLID_ARCHIVES),
                     "%s: planned as %s%s" % (rel, want_fmt,
                                              " solid" if rel in SOLID_ARCHIVES else ""))

    # alienswarm: ~120 MiB, one download chunk, small first entry then big ones
    big = archives.get("fixture-alpha/alienswarm/alienswarm.eti")
    path = os.path.join(fixtures, "fixture-alpha/alienswarm/alienswarm.eti")
    size = os.path.getsize(path) if os.path.exists(path) else -1
    report.check(110 * MIB <= size < CHUNK_SIZE,
                 "alienswarm.eti is %d bytes: ~120 MiB and one 128 MiB chunk" % size)
    if big:
        files = [e for e in big["entries"] if e["type"] == "file"]
        report.check(len(files) >= 3 and files[0]["size"] <= 64 * 1024
                     and all(e["size"] >= 16 * MIB for e in files[1:]),
                     "alienswarm.eti: small first entry, then large ones",
                     "%r" % [(e["name"], e["size"]) for e in files])

    # pinned entry sets and contents
    pinned = dict(PINNED)
    pinned["fixture-extra/css/css.eti"] = CSS_FILES
    for rel, want in sorted(pinned.items()):
        spec = archives.get(rel)
        files = {e["name"]: e for e in spec["entries"] if e["type"] == "file"} \
            if spec else {}
        report.check(set(files) == set(want), "%s: regular entries are exactly %s"
                     % (rel, sorted(want)), "got %s" % sorted(files))
        for name, data in want.items():
            if data is not None and name in files:
                report.check(files[name]["sha256"] == sha256_bytes(data),
                             "%s: %s has the spec's bytes" % (rel, name))
    cnctw = archives.get("fixture-bravo/cnctw/cnctw.eti")
    if cnctw:
        total = sum(e["size"] for e in cnctw["entries"])
        report.check(total == 3 * MIB, "fixture-bravo/cnctw: entries sum to 3 MiB",
                     "got %d" % total)

    # ggoo: byte-identical in alpha and bravo, at least two files
    a, b = (os.path.join(fixtures, f, "ggoo") for f in ("fixture-alpha", "fixture-bravo"))

    def tree(root):
        out = {}
        for r, _dirs, names in os.walk(root):
            for n in names:
                full = os.path.join(r, n)
                out[os.path.relpath(full, root)] = sha256_path(full)
        return out
    ta, tb = tree(a), tree(b)
    report.check(ta == tb and len(ta) >= 3,  # ggoo.eti + plain file + version.ini
                 "ggoo: alpha and bravo copies are byte-identical (%d files)" % len(ta),
                 "alpha %r bravo %r" % (ta, tb))

    # plain files listed in the manifest
    for rel, spec in sorted(manifest["files"].items()):
        full = os.path.join(fixtures, rel)
        ok = os.path.isfile(full) and sha256_path(full) == spec["sha256"]
        report.check(ok, "%s: plain file matches manifest" % rel)


def check_rejects_corruption(fixtures, manifest, report):
    """Prove the archive checks can fail: damaged copies must be rejected.

    Note: libarchive 3.6 does not verify the data CRC32 of stored RAR
    entries (bsdtar -xf/-xOf exit 0 on a flipped data byte, RAR 4 and 5
    alike); such damage is caught here by comparing the extracted bytes,
    and by rarfile, which does check the CRC.
    """
    cases = []

    def flip(data, pos):
        data = bytearray(data)
        data[pos] ^= 0x55
        return bytes(data)

    for rel in ("fixture-bravo/cnctw/cnctw.eti", "fixture-bravo/bfbc2/bfbc2.eti",
                "fixture-solid/cnctw/cnctw.eti"):
        with open(os.path.join(fixtures, rel), "rb") as fh:
            data = fh.read()
        first = next(e for e in manifest["archives"][rel]["entries"]
                     if e["type"] == "file")
        name_at = data.find(first["name"].replace("/", "\\").encode()
                            if manifest["archives"][rel]["format"] == "rar4"
                            else first["name"].encode())
        cases.append((rel, "a flipped data byte", flip(data, len(data) // 2)))
        cases.append((rel, "a flipped header byte (entry name)",
                      flip(data, name_at + 1)))
        cases.append((rel, "truncation to half", data[:len(data) // 2]))
    with tempfile.TemporaryDirectory(prefix="fixture-bad-") as scratch:
        for rel, how, damaged in cases:
            path = os.path.join(scratch, os.path.basename(rel))
            with open(path, "wb") as fh:
                fh.write(damaged)
            spec = dict(manifest["archives"][rel])
            quiet = Report(quiet=True)
            check_archive(path, rel, spec, quiet)
            tools = sorted({"bsdtar" if "bsdtar" in f else
                            "rarfile" if "rarfile" in f else "header"
                            for f in quiet.failed})
            report.check("bsdtar" in tools and "rarfile" in tools,
                         "negative: copy of %s with %s is rejected (by %s)"
                         % (rel, how, ", ".join(tools) or "nothing"),
                         "failures: %r" % quiet.failed)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s FIXTURES_DIR\n" % argv[0])
        return 2
    fixtures = argv[1]
    report = Report()
    for tool in ("bsdtar",):
        if not report.check(shutil.which(tool) is not None, "%s is installed" % tool):
            return 1
    mpath = os.path.join(fixtures, "manifest.json")
    try:
        with open(mpath, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as exc:
        report.check(False, "manifest.json readable", str(exc))
        return 1

    found = find_eti(fixtures)
    report.check(sorted(found) == sorted(manifest["archives"]),
                 "every .eti under %s is in the manifest and vice versa (%d)"
                 % (fixtures, len(found)),
                 "found %r manifest %r" % (found, sorted(manifest["archives"])))

    check_spec_facts(fixtures, manifest, report)
    for rel in found:
        spec = manifest["archives"].get(rel)
        if spec is None:
            continue
        path = os.path.join(fixtures, rel)
        report.check(sha256_path(path) == spec["sha256"],
                     "%s: archive bytes match the manifest" % rel)
        check_archive(path, rel, spec, report)
    check_rejects_corruption(fixtures, manifest, report)

    print("%d checks passed, %d failed" % (report.passed, len(report.failed)))
    for f in report.failed:
        print("  failed: %s" % f)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
