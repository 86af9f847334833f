"""Court express mail: the carrier adapter, tracking receipts and their outcomes, the carrier hook,
mail pieces and the print run, the stand-in carrier.
"""
