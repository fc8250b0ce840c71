# dbus/: interface XML (source of truth), bus policy, activation file, systemd unit.
dbusinterfaces_DATA = dbus/dev.locald.Broker1.xml
dbuspolicy_DATA = dbus/dev.locald.Broker1.conf
dbussystemservices_DATA = dbus/dev.locald.Broker1.service dbus/dev.locald.Broker1.Net.service \
	dbus/dev.locald.Broker1.Hosts.service
# The broker and its two helpers (privileged ports; the hosts file), each
# with its own sandbox (docs/security.md).
systemdsystemunit_DATA = dbus/locald-brokerd.service dbus/locald-brokerd-net.service \
	dbus/locald-brokerd-hosts.service dbus/locald.slice

# Substituted at make time so $(libexecdir) is fully expanded.
dbus_edit = $(SED) -e 's|@libexecdir[@]|$(libexecdir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' -e 's|@VERSION[@]|$(VERSION)|g'
dbus/dev.locald.Broker1.service: dbus/dev.locald.Broker1.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) dbus && $(dbus_edit) $(srcdir)/dbus/dev.locald.Broker1.service.in > $@.tmp && mv $@.tmp $@
dbus/locald-brokerd.service: dbus/locald-brokerd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) dbus && $(dbus_edit) $(srcdir)/dbus/locald-brokerd.service.in > $@.tmp && mv $@.tmp $@
dbus/%.service: dbus/%.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) dbus && $(dbus_edit) $< > $@.tmp && mv $@.tmp $@

EXTRA_DIST += \
	dbus/dev.locald.Broker1.xml \
	dbus/dev.locald.Broker1.conf \
	dbus/dev.locald.Broker1.service.in \
	dbus/locald-brokerd.service.in \
	dbus/dev.locald.Broker1.Net.service.in \
	dbus/dev.locald.Broker1.Hosts.service.in \
	dbus/locald-brokerd-net.service.in \
	dbus/locald-brokerd-hosts.service.in \
	dbus/locald.slice
CLEANFILES += dbus/dev.locald.Broker1.service dbus/locald-brokerd.service \
	dbus/dev.locald.Broker1.Net.service dbus/dev.locald.Broker1.Hosts.service \
	dbus/locald-brokerd-net.service dbus/locald-brokerd-hosts.service
