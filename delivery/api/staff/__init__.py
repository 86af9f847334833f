"""The staff workspace: sign-in, the clerk's queue, the dispatch page, new dispatches, CSV batches,
reports.
"""
