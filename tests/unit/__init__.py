"""Unit tests: pure, no database, no network. One folder per part of the code, each test module
named after the module it tests (a package, so that modules of the same name in two folders stay
apart: ``unit.tracking.test_webhooks`` and ``integration.tracking.test_webhooks``)."""
