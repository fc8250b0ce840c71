# broker/: locald-brokerd, the root D-Bus service.

# The pure core of the operations: path validation, the cgroup kill loop
# and the fd-relative cleanup walk. GLib only, no bus and no privilege
# assumed, so the client library compiles the very same code into its fast
# path (client/locald-fastpath.c) instead of carrying a second copy.
noinst_LTLIBRARIES += broker/libbroker-core.la
broker_libbroker_core_la_SOURCES = \
	broker/broker-error.c broker/broker-error.h \
	broker/bus-driver.h \
	broker/bus-text.c broker/bus-text.h \
	broker/cgroup.c broker/cgroup.h broker/cgroup-private.h \
	broker/cleanup.c broker/cleanup.h \
	broker/cleanup-fs.c broker/cleanup-fs.h \
	broker/cleanup-tree.c broker/cleanup-tree.h \
	broker/hosts-block.c broker/hosts-block.h \
	broker/hosts-file.c broker/hosts-file.h \
	broker/bindport.c broker/bindport.h \
	broker/fd-util.h
broker_libbroker_core_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBACL_CFLAGS) -DG_LOG_DOMAIN=\"locald-brokerd\"
# libacl: cleanup.c reads the access ACLs of the directories on the way to .locald.
broker_libbroker_core_la_LIBADD = $(GLIB_LIBS) $(LIBACL_LIBS)

# The privileged operations, bus-free, shared by the daemon and the unit tests.
noinst_LTLIBRARIES += broker/libbroker-ops.la
broker_libbroker_ops_la_SOURCES = \
	broker/cgroup-join.c broker/cgroup-join.h \
	broker/cgroup-systemd.c broker/cgroup-systemd.h
broker_libbroker_ops_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(SYSTEMD_CFLAGS) -DG_LOG_DOMAIN=\"locald-brokerd\"
broker_libbroker_ops_la_LIBADD = broker/libbroker-core.la $(GLIB_LIBS) $(SYSTEMD_LIBS)

libexec_PROGRAMS += broker/locald-brokerd
broker_locald_brokerd_SOURCES = \
	broker/main.c \
	broker/broker-context.h \
	broker/options.c broker/options.h \
	broker/caps.c broker/caps.h \
	broker/sdbus-source.c broker/sdbus-source.h \
	broker/bus.c broker/bus.h \
	broker/authz.c broker/authz.h \
	broker/audit.c broker/audit.h \
	broker/fdprobe.c broker/fdprobe.h \
	broker/helper-client.c broker/helper-client.h \
	broker/memory.c broker/memory.h \
	broker/selfcheck.c broker/selfcheck.h
broker_locald_brokerd_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(POLKIT_CFLAGS) $(SYSTEMD_CFLAGS) $(LIBCAP_CFLAGS) \
	-DG_LOG_DOMAIN=\"locald-brokerd\" -DSYSCONFDIR=\"$(sysconfdir)\"
broker_locald_brokerd_LDADD = broker/libbroker-ops.la $(GLIB_LIBS) $(POLKIT_LIBS) $(SYSTEMD_LIBS) $(LIBCAP_LIBS)

# locald-broker-helper: the private helpers (net: privileged ports; hosts:
# the hosts file), each run by its own minimal unit.
libexec_PROGRAMS += broker/locald-broker-helper
broker_locald_broker_helper_SOURCES = \
	broker/helper-main.c \
	broker/caps.c broker/caps.h
broker_locald_broker_helper_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(SYSTEMD_CFLAGS) $(LIBCAP_CFLAGS) \
	-DG_LOG_DOMAIN=\"locald-broker-helper\"
broker_locald_broker_helper_LDADD = broker/libbroker-ops.la $(GLIB_LIBS) $(SYSTEMD_LIBS) $(LIBCAP_LIBS)
