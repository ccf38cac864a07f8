"""vertex_emulator: a faithful local Vertex AI JobService (v1) for testing the cloud path (see server.py)."""
from vertex_emulator.server import GCS_FUSE_ROOT_ENV, VertexEmulator

__all__ = ["GCS_FUSE_ROOT_ENV", "VertexEmulator"]
