# Benchmarks. Not part of `make check`: they measure, they do not test.
# Built with every `make` so they keep compiling under -Werror; `make bench`
# (as root) runs them through bench/run in the sandbox and writes
# bench/results/latest.{txt,json} in the source tree.

noinst_PROGRAMS += bench/bench-broker bench/setuid-helper

bench_bench_broker_SOURCES = \
	bench/bench-broker.c \
	bench/bench-calls.c \
	bench/bench-calls.h \
	bench/bench-exec.c \
	bench/bench-exec.h \
	bench/bench-memory.c \
	bench/bench-memory.h \
	bench/bench-report.c \
	bench/bench-report.h \
	bench/bench-stats.c \
	bench/bench-stats.h
bench_bench_broker_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_GLIB_CFLAGS)
bench_bench_broker_LDADD = $(GLIB_LIBS) $(JSON_GLIB_LIBS)

# libc only: it stands in for a setuid-root helper (see its header comment).
bench_setuid_helper_SOURCES = bench/setuid-helper.c

EXTRA_DIST += \
	bench/README.md \
	bench/results/latest.json \
	bench/results/latest.txt \
	bench/run

# "bench" is also a directory of the build tree, hence phony.
.PHONY: bench
bench: broker/locald-brokerd$(EXEEXT) bench/bench-broker$(EXEEXT) bench/setuid-helper$(EXEEXT)
	top_builddir='$(abs_top_builddir)' $(top_srcdir)/bench/run --no-build
