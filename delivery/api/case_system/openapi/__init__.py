"""The OpenAPI 3.1 document of the case-system API, in parts: `document` assembles it."""
