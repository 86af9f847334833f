"""Sandbox mode: the mailbox and stand-in control pages, the stand-in time-stamping authority.
Never in production.
"""
