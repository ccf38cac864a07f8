"""Vertex tests use a loopback Vertex REST server (vertex_server.py) and the loopback GCS server."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gcs"))

from gcs_server import gcs_bucket, gcs_url  # noqa: E402,F401 - fixtures
