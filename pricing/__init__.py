"""Prices: the offline catalog and the price of an hour of a stage's trial."""
