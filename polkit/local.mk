# polkit/: the actions (installed) and an example rules file (documentation only:
# installing it into rules.d would grant access, an admin's decision).
polkitactions_DATA = polkit/dev.locald.broker.policy
polkitexamplesdir = $(docdir)/examples
polkitexamples_DATA = polkit/50-locald-broker.rules.example
EXTRA_DIST += $(polkitactions_DATA) $(polkitexamples_DATA)
