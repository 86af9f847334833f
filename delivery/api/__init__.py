"""The HTTP side: the case-system API, the recipient pages, health and the sandbox pages."""
