"""Application services: each turns one request or job into one transaction (or a few)."""
