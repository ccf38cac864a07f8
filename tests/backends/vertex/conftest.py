"""Fixtures of the Vertex backend suite: the emulator running nasctl's trainer image."""
from tests.support.vertex_emulated import make_vertex, vertex  # noqa: F401 - fixtures
