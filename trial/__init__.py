"""The trial protocol, once: trial directories (local, GCS), the trial runner, the in-container entry points."""
