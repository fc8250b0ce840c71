# docs/: Markdown documentation and the daemon's man page.
# (docs/man/localdctl.1 is listed by the client area.)
dist_man_MANS += docs/man/locald-brokerd.8
dist_doc_DATA += \
	docs/architecture.md \
	docs/security.md \
	docs/api.md \
	docs/benchmarks.md \
	docs/polkit-rules.md \
	docs/ci.md
