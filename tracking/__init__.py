"""Receipts in, evidence out: the evidence chain, recipient links, webhook signing."""
