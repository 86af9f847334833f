"""Integration tests: real PostgreSQL, Redis and SQLite, the worker, stand-ins on loopback.

One folder per part: ``api`` is delivery/api/case_system, http and public; ``staff`` the clerk
workspace (delivery/api/staff); ``delivery`` the core, its jobs, CLI and sandbox. A package like
``unit``, for the same reason."""
