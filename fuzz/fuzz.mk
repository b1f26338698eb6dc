# libFuzzer targets (fuzz/README.md), included by the Makefile.
# The project's objects are built again with clang, coverage and
# sanitizers, under build/fuzz/ (never mixed with the gcc objects).
FUZZ_CC ?= clang
FUZZ_B := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
# The project's flags, less three warnings clang gives and gcc does not:
# -Wformat=2 includes -Wformat-nonliteral, which fires on a va_list
# format (log.c); -Wstring-plus-int on msg_type_str()'s #t + 4; and
# -Wmissing-field-initializers on libseccomp's SCMP_A4() (sandbox.c).
FUZZ_CFLAGS = -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	$(filter -std=% -D% -W% -I%,$(CFLAGS)) -MMD -MP \
	-Wno-format-nonliteral -Wno-string-plus-int \
	-Wno-missing-field-initializers
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_TARGETS))
fobj = $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(1))

# -max_len per target: what one input may grow to while fuzzing.
FUZZ_MAXLEN_frame := 16384
FUZZ_MAXLEN_msgtypes := 16384
FUZZ_MAXLEN_hello := 16384
FUZZ_MAXLEN_mdns := 4200
FUZZ_MAXLEN_stream := 4200
FUZZ_MAXLEN_control := 8192
FUZZ_MAXLEN_manifest := 16384
FUZZ_MAXLEN_DEFAULT := 4096

.PHONY: fuzz fuzz-build fuzz-replay fuzz-corpus

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# <libmdnsd/1035.h> wants a config.h (fuzz/compat/config.h says why).
$(FUZZ_B)/obj/fuzz/fuzz_mdns.o: FUZZ_CFLAGS += -Ifuzz/compat

$(FUZZ_B)/libcommon.a: $(call fobj,$(COMMON_SRC))
	$(AR) rcs $@ $^
$(FUZZ_B)/libsupervisor.a: $(call fobj,$(SUP_SRC))
	$(AR) rcs $@ $^
$(FUZZ_B)/libnet.a: $(call fobj,$(filter-out worker-net/net_main.c,$(NET_SRC)))
	$(AR) rcs $@ $^
$(FUZZ_B)/libtransfer.a: $(call fobj,$(filter-out worker-transfer/transfer_main.c,$(XFER_SRC)))
	$(AR) rcs $@ $^
$(FUZZ_B)/libinstall.a: $(call fobj,$(filter-out worker-install/install_main.c,$(INST_SRC)))
	$(AR) rcs $@ $^

FUZZ_LIBS := $(FUZZ_B)/libfuzzhelp.a $(FUZZ_B)/libsupervisor.a \
	$(FUZZ_B)/libnet.a $(FUZZ_B)/libtransfer.a $(FUZZ_B)/libinstall.a \
	$(FUZZ_B)/libcommon.a
$(FUZZ_B)/libfuzzhelp.a: $(call fobj,fuzz/fuzzhelp.c)
	$(AR) rcs $@ $^

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/fuzz/fuzz_%.o $(FUZZ_LIBS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The seed generator: the project's own encoders write valid inputs.
$(FUZZ_B)/mkcorpus: $(call fobj,fuzz/mkcorpus.c) $(FUZZ_LIBS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -o $@ $^ $(LDLIBS)

.SECONDARY: $(call fobj,$(wildcard fuzz/*.c))

fuzz-build: $(FUZZ_BINS)

# Rewrites the generated seeds of fuzz/corpus/ (hand-made and regression
# inputs there are kept).
fuzz-corpus: $(FUZZ_B)/mkcorpus
	$(FUZZ_B)/mkcorpus fuzz/corpus

# Each target for FUZZ_SECONDS, FUZZ_JOBS at a time; new inputs go to
# build/fuzz/corpus/<target>, crashes to build/fuzz/crashes/<target>.
fuzz: fuzz-build
	@$(MAKE) --no-print-directory -k -j$(FUZZ_JOBS) \
		$(addprefix fuzz-run-,$(FUZZ_TARGETS)); rc=$$?; \
	for t in $(FUZZ_TARGETS); do \
		sh fuzz/summary.sh $$t $(FUZZ_B)/logs/$$t.log; done; exit $$rc

fuzz-run-%: $(FUZZ_B)/fuzz_%
	@mkdir -p $(FUZZ_B)/corpus/$* $(FUZZ_B)/crashes/$* $(FUZZ_B)/logs
	@echo "fuzzing $* for $(FUZZ_SECONDS) s (log: $(FUZZ_B)/logs/$*.log)"
	@$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-max_len=$(or $(FUZZ_MAXLEN_$*),$(FUZZ_MAXLEN_DEFAULT)) \
		-close_fd_mask=2 -artifact_prefix=$(FUZZ_B)/crashes/$*/ \
		$(FUZZ_B)/corpus/$* fuzz/corpus/$* > $(FUZZ_B)/logs/$*.log 2>&1 || \
		{ echo "fuzz_$* FAILED: see $(FUZZ_B)/logs/$*.log and" \
		"$(FUZZ_B)/crashes/$*/"; exit 1; }

# make check: every committed input once (-runs=0), failing on a crash.
fuzz-replay: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		$(FUZZ_B)/fuzz_$$t -runs=0 -close_fd_mask=2 fuzz/corpus/$$t \
		> $(FUZZ_B)/replay-$$t.log 2>&1 || { \
		cat $(FUZZ_B)/replay-$$t.log; \
		echo "fuzz-replay: $$t FAILED"; exit 1; }; \
		echo "fuzz-replay: $$t $$(ls fuzz/corpus/$$t | wc -l) inputs ok"; \
	done

-include $(shell find $(FUZZ_B)/obj -name '*.d' 2>/dev/null)
