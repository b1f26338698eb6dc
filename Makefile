# lanspread: plain GNU make, everything built under build/.
PKG_CONFIG ?= pkg-config
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
PYTHON ?= /usr/bin/python3
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/lanspread
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
B := build
# The release: lanspreadctl --version prints it.
VERSION := 0.1.0

PKGS := msgpack sqlite3 libarchive jansson libseccomp libcrypto libsodium zlib \
	libmicrohttpd
CFLAGS ?= -O2 -g
# Sanitizer flags (make asan); the project's own flags are always kept,
# even when CFLAGS is given on the command line.
SANITIZE ?=
override CFLAGS += $(SANITIZE) -std=c11 -D_GNU_SOURCE -Wall -Wextra \
	-Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wvla \
	-Wpointer-arith -Wformat=2 -Wundef -Wnull-dereference -MMD -MP -I.
override LDFLAGS += $(SANITIZE)

# pkg-config runs once, when a compile or link rule first needs it (not
# for make deps, which may be installing the packages); a missing package
# stops the build with pkg-config's own message.
pkgconf = $(shell $(PKG_CONFIG) $(1))$(if $(filter 0,$(.SHELLSTATUS)),,\
	$(error $(PKG_CONFIG) $(1) failed (make deps installs the packages)))
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(call pkgconf,--cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(call pkgconf,--libs $(PKGS)))$(PKG_LIBS)
CHECK_LIBS = $(eval CHECK_LIBS := $$(call pkgconf,--libs check))$(CHECK_LIBS)
# libev and libmdnsd ship no pkg-config file on Debian.
LDLIBS += $(PKG_LIBS) -lev -lmdnsd -lm

# Debian packages the build, the tests and the demo need.
DEB_PACKAGES := build-essential pkg-config libev-dev libmdnsd-dev \
	libmsgpack-dev libsqlite3-dev libarchive-dev check libseccomp-dev \
	libjansson-dev libssl-dev libsodium-dev zlib1g-dev \
	libarchive-tools python3 python3-rarfile python3-cryptography python3-dnspython \
	mandoc valgrind iproute2 \
	util-linux sqlite3 diffutils tmux
# the web worker's HTTP server; the browser test's Chromium
DEB_PACKAGES += libmicrohttpd-dev chromium chromium-driver
# make fuzz: clang and its libFuzzer runtime
DEB_PACKAGES += clang libclang-rt-14-dev

COMMON_SRC := $(wildcard common/*.c)
SUP_SRC := $(filter-out supervisor/lanspreadd.c supervisor/peer_shim.c, \
	$(wildcard supervisor/*.c))
NET_SRC := $(wildcard worker-net/*.c)
XFER_SRC := $(wildcard worker-transfer/*.c)
INST_SRC := $(wildcard worker-install/*.c)
WEB_SRC := $(wildcard worker-web/*.c)
# The page's files, compiled into the web worker.
WEB_ASSETS := $(sort $(wildcard worker-web/assets/*))
WEB_GEN := $(B)/gen/web_assets.c
TEST_SRC := $(wildcard tests/check_*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

BINS := $(B)/lanspread-peer $(B)/lanspreadd $(B)/lanspread-net \
	$(B)/lanspread-transfer $(B)/lanspread-install $(B)/lanspread-web \
	$(B)/lanspreadctl
TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))

.PHONY: all deps check unit asan valgrind fixtures scenarios demo \
	man-lint install clean bench-hash
all: $(BINS)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/libcommon.a: $(call obj,$(COMMON_SRC))
	$(AR) rcs $@ $^
$(B)/libsupervisor.a: $(call obj,$(SUP_SRC))
	$(AR) rcs $@ $^
$(B)/libnet.a: $(call obj,$(filter-out worker-net/net_main.c,$(NET_SRC)))
	$(AR) rcs $@ $^
$(B)/libtransfer.a: $(call obj,$(filter-out worker-transfer/transfer_main.c,$(XFER_SRC)))
	$(AR) rcs $@ $^
$(B)/libinstall.a: $(call obj,$(filter-out worker-install/install_main.c,$(INST_SRC)))
	$(AR) rcs $@ $^

$(WEB_GEN): worker-web/embed.py $(WEB_ASSETS)
	$(PYTHON) worker-web/embed.py $@ $(WEB_ASSETS)
$(B)/libweb.a: $(call obj,$(filter-out worker-web/web_main.c,$(WEB_SRC)) \
	$(WEB_GEN))
	$(AR) rcs $@ $^

$(B)/lanspread-peer: $(call obj,supervisor/peer_shim.c) $(B)/libsupervisor.a $(B)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/lanspreadd: $(call obj,supervisor/lanspreadd.c) $(B)/libsupervisor.a $(B)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/lanspread-net: $(call obj,worker-net/net_main.c) $(B)/libnet.a $(B)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/lanspread-transfer: $(call obj,worker-transfer/transfer_main.c) $(B)/libtransfer.a $(B)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/lanspread-install: $(call obj,worker-install/install_main.c) $(B)/libinstall.a $(B)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/lanspread-web: $(call obj,worker-web/web_main.c) $(B)/libweb.a $(B)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(call obj,ctl/lanspreadctl.c): override CFLAGS += \
	-DLANSPREAD_VERSION='"$(VERSION)"'
$(B)/lanspreadctl: $(call obj,ctl/lanspreadctl.c)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -ljansson

# Every Check suite links every module library; unused members are dropped.
TEST_LIBS := $(B)/libsupervisor.a $(B)/libnet.a $(B)/libtransfer.a \
	$(B)/libinstall.a $(B)/libcommon.a
$(B)/tests/%: $(call obj,tests/%.c) $(call obj,tests/testutil.c) \
	$(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

# Test objects are not intermediates to delete after linking.
.SECONDARY: $(call obj,$(TEST_SRC) tests/testutil.c)

# bench/hashspeed.c: piece hash and piece size for manifests (issue 10).
bench-hash: $(B)/bench/hashspeed
$(B)/bench/hashspeed: $(call obj,bench/hashspeed.c)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcrypto -lsodium

fixtures: $(B)/fixtures/.stamp
$(B)/fixtures/.stamp: $(wildcard fixtures/*)
	$(PYTHON) fixtures/mkfixtures.py $(B)/fixtures
	@touch $@

# Unit tests print every test (CK_VERBOSE); the fixtures run from build/.
# Check's 4 s per test, times five: this machine and CI are shared.
unit: $(TESTS) $(B)/fixtures/.stamp
	@failed=""; for t in $(TESTS); do \
		echo "== $$t"; CK_VERBOSITY=verbose CK_FORK=yes \
		CK_TIMEOUT_MULTIPLIER=5 \
		LANSPREAD_FIXTURES=$(CURDIR)/$(B)/fixtures $$t || \
		failed="$$failed $$t"; done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi
	$(PYTHON) tests/check_fixture_archives.py $(B)/fixtures

scenarios: all fixtures
	$(PYTHON) tests/scenarios/run.py --all

check: deps
	$(MAKE) all fixtures
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) man-lint
	$(PYTHON) tests/scenarios/mdns_netns.py
	$(PYTHON) tests/scenarios/mdns_hall.py
	$(PYTHON) tests/scenarios/run.py --expected

# AddressSanitizer + UBSan build of the unit tests, in its own tree.
asan: deps
	$(MAKE) B=build/asan CFLAGS="-O1 -g" SANITIZE="-fsanitize=address,undefined \
		-fno-omit-frame-pointer -fno-sanitize-recover=all" unit

valgrind: all fixtures
	$(PYTHON) tests/valgrind_peer.py $(B)

MAN_PAGES := $(wildcard man/*.[0-9])
man-lint:
	@for m in $(MAN_PAGES); do mandoc -Tlint -W warning $$m || exit 1; done

demo: deps
	$(MAKE) all fixtures
	sh tests/demo.sh $(B)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/libexec/lanspread
	install -m 755 $(B)/lanspreadctl $(B)/lanspread-peer $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(B)/lanspreadd $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(B)/lanspread-net $(B)/lanspread-transfer \
		$(B)/lanspread-install $(B)/lanspread-web \
		$(DESTDIR)$(PREFIX)/libexec/lanspread/
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/lanspread
	install -m 644 man/lanspreadctl.1 man/lanspread-peer.1 \
		$(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/lanspread.conf.5 man/lanspread-catalog.5 \
		$(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/lanspread-web.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 644 man/lanspreadd.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|/usr/local/|$(PREFIX)/|g' packaging/lanspreadd.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/lanspreadd.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/lanspreadd.service
	install -m 644 packaging/lanspread.conf.example $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 644 packaging/lanspreadctl.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/lanspreadctl
	test -e $(DESTDIR)$(SYSCONFDIR)/lanspread/lanspread.conf || \
		install -m 644 packaging/lanspread.conf.example \
		$(DESTDIR)$(SYSCONFDIR)/lanspread/lanspread.conf

clean:
	rm -rf $(B)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# libFuzzer targets: make fuzz, make fuzz-replay (fuzz/README.md)
include fuzz/fuzz.mk
