"""Public notice (公告送达): the notice and its approval, publications, the public board
and the staff review pages.
"""
