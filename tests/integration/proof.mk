# tests/integration/proof.mk: suites that try the broker's whole surface
# against a hostile or failing world (docs/security.md, "Attacks and faults
# tried", has their figures), in the sandbox like the others.
#
#   test_bus_fuzz.py     20,000+ seeded random calls (raw D-Bus messages) as
#                        root, granted, default and denied users
#   (more below as they land)

integration_proof_tests =

EXTRA_DIST += $(integration_proof_tests) \
	tests/lib/rawdbus.py

if ENABLE_INTEGRATION_TESTS
TESTS += $(integration_proof_tests)
endif
