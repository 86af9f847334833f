"""Browser tests (a package, so that this directory's conftest.py does not replace the
top-level ``conftest`` module that helpers import)."""
