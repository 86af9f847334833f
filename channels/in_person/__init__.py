"""In-person service (直接送达 / 留置送达): field tasks, their visits' outcomes,
the field server's pages.
"""
