# tests/fuzz/: fuzz targets for the parsers and validators. In make check they
# replay the corpus plus deterministic mutations under the unit-test
# sanitizers; `make fuzz-validators-libfuzzer` (clang) builds the
# coverage-guided binary.
fuzz_validators_sources = \
	tests/fuzz/fuzz-validators.c \
	broker/cleanup.c broker/cleanup-fs.c broker/cleanup-tree.c broker/cgroup.c broker/broker-error.c \
	broker/hosts-block.c broker/bindport.c

check_PROGRAMS += tests/fuzz/fuzz-validators
TESTS += tests/fuzz/fuzz-validators
tests_fuzz_fuzz_validators_SOURCES = tests/fuzz/fuzz-replay.c $(fuzz_validators_sources)
tests_fuzz_fuzz_validators_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBACL_CFLAGS) $(SANITIZER_CFLAGS) -I$(top_srcdir)/broker
tests_fuzz_fuzz_validators_LDFLAGS = $(SANITIZER_CFLAGS)
tests_fuzz_fuzz_validators_LDADD = $(GLIB_LIBS) $(LIBACL_LIBS)

EXTRA_DIST += tests/fuzz/README.md $(wildcard $(srcdir)/tests/fuzz/corpus/*)

fuzz-validators-libfuzzer: $(fuzz_validators_sources)
	$(AM_V_CCLD)clang -g -O1 -fsanitize=fuzzer,address,undefined -I$(top_builddir) -I$(top_srcdir)/broker \
		$(GLIB_CFLAGS) $(LIBACL_CFLAGS) $(addprefix $(srcdir)/,$(fuzz_validators_sources)) $(GLIB_LIBS) $(LIBACL_LIBS) -o $@
CLEANFILES += fuzz-validators-libfuzzer
.PHONY: fuzz-validators-libfuzzer
