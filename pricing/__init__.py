"""Prices and the cost preview of an experiment's stages."""
