"""The HTTP side, by audience: the case system's JSON API, staff pages, public pages; provider
hooks live with their channel.
"""
