"""The core of Songda: dispatches, storage, the HTTP API, the worker and the CLI."""
