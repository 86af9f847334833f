"""The case system's JSON API (/api/v1): an API key in, problem+json out, described by the OpenAPI
document.
"""
