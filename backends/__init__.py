"""Where trials run: local subprocesses with device slots, or Vertex AI (``backends.vertex``)."""
