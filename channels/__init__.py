"""One package per method of service: the adapter to its outside world, its receipts, how they
read, its pages and hooks, its sandbox stand-in. Channels never import each other.
"""
