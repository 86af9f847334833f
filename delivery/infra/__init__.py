"""The machinery the core runs on: files and keys on disk, PDF rendering and checks, shared limits,
outage detection.
"""
