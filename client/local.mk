# client/: liblocald-broker (capability acquisition) and localdctl.

# --- the generated stub: private, compiled into the library, never installed.
client_stub_generated = client/locald-broker1-stub.c client/locald-broker1-stub.h
client/locald-broker1-stub.c: $(top_srcdir)/dbus/dev.locald.Broker1.xml
	$(AM_V_GEN)$(MKDIR_P) client && $(GDBUS_CODEGEN) \
		--glib-min-required 2.64 \
		--interface-prefix dev.locald. \
		--c-namespace LdbStub \
		--c-generate-autocleanup all \
		--generate-c-code client/locald-broker1-stub \
		$(top_srcdir)/dbus/dev.locald.Broker1.xml
client/locald-broker1-stub.h: client/locald-broker1-stub.c
	@:
BUILT_SOURCES += $(client_stub_generated)
CLEANFILES += $(client_stub_generated)

noinst_LTLIBRARIES += client/libbroker1-stub.la
nodist_client_libbroker1_stub_la_SOURCES = $(client_stub_generated)
# Generated code: keep the warnings, but not all of ours apply to it.
client_libbroker1_stub_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -Wno-missing-prototypes -Wno-null-dereference
client_libbroker1_stub_la_LIBADD = $(GLIB_LIBS)

# --- the library
lib_LTLIBRARIES += client/liblocald-broker.la
client_pkgincludedir = $(includedir)/locald-broker-1
client_pkginclude_HEADERS = \
	client/locald-broker.h \
	client/locald-error.h \
	client/locald-names.h \
	client/locald-report.h \
	client/locald-privileged.h
client_liblocald_broker_la_SOURCES = \
	$(client_pkginclude_HEADERS) \
	client/locald-error.c client/locald-error-private.h \
	client/locald-problem.c \
	client/locald-fix.c \
	client/locald-report.c client/locald-report-private.h \
	client/locald-fastpath.c client/locald-fastpath-private.h \
	client/locald-privileged.c
nodist_client_liblocald_broker_la_SOURCES = client/locald-broker1-stub.h
client_liblocald_broker_la_CPPFLAGS = $(AM_CPPFLAGS) -DLOCALD_BROKER_COMPILATION -DG_LOG_DOMAIN=\"locald-broker\"
client_liblocald_broker_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
# broker/libbroker-core: the fast path runs the broker's own validation and walks.
client_liblocald_broker_la_LIBADD = client/libbroker1-stub.la broker/libbroker-core.la $(GLIB_LIBS) $(LIBACL_LIBS)
# Only the public API leaves the library: the stub's symbols stay inside.
client_liblocald_broker_la_LDFLAGS = \
	-version-info $(LIBLOCALD_BROKER_LT_VERSION) \
	-export-symbols-regex '^locald_' \
	-no-undefined

pkgconfig_DATA += client/locald-broker-1.pc
EXTRA_DIST += client/locald-broker-1.pc.in

# --- GObject Introspection
if HAVE_INTROSPECTION
-include $(INTROSPECTION_MAKEFILE)
INTROSPECTION_GIRS = client/LocaldBroker-1.gir
INTROSPECTION_SCANNER_ARGS = --warn-all --warn-error
INTROSPECTION_COMPILER_ARGS =
client/LocaldBroker-1.gir: client/liblocald-broker.la
client_LocaldBroker_1_gir_NAMESPACE = LocaldBroker
client_LocaldBroker_1_gir_VERSION = 1
client_LocaldBroker_1_gir_LIBS = client/liblocald-broker.la
client_LocaldBroker_1_gir_FILES = \
	$(client_pkginclude_HEADERS) \
	client/locald-error.c \
	client/locald-problem.c \
	client/locald-fix.c \
	client/locald-report.c \
	client/locald-privileged.c
client_LocaldBroker_1_gir_INCLUDES = GObject-2.0 Gio-2.0
client_LocaldBroker_1_gir_CFLAGS = $(GLIB_CFLAGS) -I$(top_srcdir) -I$(top_builddir) -DLOCALD_BROKER_COMPILATION
client_LocaldBroker_1_gir_SCANNERFLAGS = \
	--identifier-prefix=Locald \
	--symbol-prefix=locald \
	--c-include=locald-broker.h \
	--pkg-export=locald-broker-1

girdir = $(datadir)/gir-1.0
gir_DATA = $(INTROSPECTION_GIRS)
typelibdir = $(libdir)/girepository-1.0
typelib_DATA = $(INTROSPECTION_GIRS:.gir=.typelib)
CLEANFILES += $(gir_DATA) $(typelib_DATA)
endif

# --- localdctl
bin_PROGRAMS += client/localdctl/localdctl
client_localdctl_localdctl_SOURCES = \
	client/localdctl/localdctl.c \
	client/localdctl/exit-codes.h \
	client/localdctl/commands.c client/localdctl/commands.h \
	client/localdctl/status.c client/localdctl/status.h \
	client/localdctl/agent.c client/localdctl/agent.h \
	client/localdctl/render.c client/localdctl/render.h \
	broker/hosts-file.c broker/hosts-file.h broker/hosts-block.c broker/hosts-block.h \
	broker/broker-error.c broker/broker-error.h broker/fd-util.h
client_localdctl_localdctl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/client -DG_LOG_DOMAIN=\"localdctl\" \
	-DLOCALDCTL_BROKER_PATH=\"$(libexecdir)/locald-brokerd\" \
	-DLOCALDCTL_HELPER_PATH=\"$(libexecdir)/locald-broker-helper\" \
	-DLOCALDCTL_ACTIVATION_FILE=\"$(dbussystemservicesdir)/dev.locald.Broker1.service\" \
	-DLOCALDCTL_BUS_POLICY=\"$(dbuspolicydir)/dev.locald.Broker1.conf\" \
	-DLOCALDCTL_POLKIT_ACTIONS=\"$(polkitactionsdir)/dev.locald.broker.policy\" \
	-DLOCALDCTL_SYSTEMD_UNIT=\"$(systemdsystemunitdir)/locald-brokerd.service\" \
	-DLOCALDCTL_INTERFACE_XML=\"$(dbusinterfacesdir)/dev.locald.Broker1.xml\" \
	-DLOCALDCTL_PKTTYAGENT=\"/usr/bin/pkttyagent\"
client_localdctl_localdctl_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_GLIB_CFLAGS)
client_localdctl_localdctl_LDADD = client/liblocald-broker.la $(GLIB_LIBS) $(JSON_GLIB_LIBS)

dist_man_MANS += docs/man/localdctl.1

bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = data/bash-completion/localdctl

# --- unit tests (no broker needed)
check_PROGRAMS += tests/client/test-report tests/client/test-localdctl
TESTS += tests/client/test-report tests/client/test-localdctl

tests_client_test_report_SOURCES = tests/client/test-report.c \
	client/localdctl/render.c client/localdctl/render.h
tests_client_test_report_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/client
tests_client_test_report_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_GLIB_CFLAGS)
tests_client_test_report_LDADD = client/liblocald-broker.la $(GLIB_LIBS) $(JSON_GLIB_LIBS)

tests_client_test_localdctl_SOURCES = tests/client/test-localdctl.c
tests_client_test_localdctl_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_client_test_localdctl_LDADD = $(GLIB_LIBS)

EXTRA_DIST += tests/client/doctor.golden.json

if HAVE_INTROSPECTION
TESTS += tests/client/test-gi.py
EXTRA_DIST += tests/client/test-gi.py
endif

# --- integration tests (sandbox: root, private system bus, polkitd)
if ENABLE_INTEGRATION_TESTS
TESTS += tests/integration/test_client.py tests/integration/test_localdctl.py tests/integration/test_fastpath.py
endif
EXTRA_DIST += tests/integration/test_client.py tests/integration/test_localdctl.py tests/integration/test_fastpath.py
