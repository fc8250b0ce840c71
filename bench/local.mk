# Benchmarks. Not part of `make check`: they measure, they do not test.
# Built with every `make` so they keep compiling under -Werror; `make bench`
# (as root) runs them through bench/run in the sandbox and writes
# bench/results/latest.{txt,json} in the source tree.

noinst_PROGRAMS += bench/bench-broker bench/setuid-helper bench/bench-fixture

bench_bench_broker_SOURCES = \
	bench/bench-broker.c \
	bench/bench-exec.c bench/bench-exec.h \
	bench/bench-load.c bench/bench-load.h \
	bench/bench-memory.c bench/bench-memory.h \
	bench/bench-report.c bench/bench-report.h \
	bench/bench-sdbus.c bench/bench-sdbus.h \
	bench/bench-stats.c bench/bench-stats.h \
	bench/bench-tree.c bench/bench-tree.h
bench_bench_broker_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/client
bench_bench_broker_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(SYSTEMD_CFLAGS) $(JSON_GLIB_CFLAGS)
# libbroker-core for the cgroup2 mount lookup, the same the broker uses.
bench_bench_broker_LDADD = client/liblocald-broker.la broker/libbroker-core.la \
	$(GLIB_LIBS) $(SYSTEMD_LIBS) $(JSON_GLIB_LIBS)

# libc only: it stands in for a setuid-root helper (see its header comment).
bench_setuid_helper_SOURCES = bench/setuid-helper.c bench/bench-tree.c bench/bench-tree.h

# Root's part of the fixtures (processes in a cgroup, root-owned trees).
bench_bench_fixture_SOURCES = bench/bench-fixture.c bench/bench-tree.c bench/bench-tree.h

EXTRA_DIST += \
	bench/README.md \
	bench/plot.gp \
	bench/results/latest.json \
	bench/results/latency-vs-concurrency.dat \
	bench/results/latency-vs-concurrency.svg \
	bench/results/latest.txt \
	bench/run

# "bench" is also a directory of the build tree, hence phony.
.PHONY: bench
bench: broker/locald-brokerd$(EXEEXT) bench/bench-broker$(EXEEXT) bench/setuid-helper$(EXEEXT) \
		bench/bench-fixture$(EXEEXT)
	top_builddir='$(abs_top_builddir)' $(top_srcdir)/bench/run --no-build
