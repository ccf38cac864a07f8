"""Recorded state: the store interface (local directory, GCS), records, and snapshots of an experiment."""
