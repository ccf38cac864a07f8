"""The trainer container image for Vertex AI: a pinned, reproducible build context, and building and pushing it.

``variants``: which JAX build (CUDA, TPU or CPU) a spec's machines need; ``lock``: the dependency pins,
taken from the versions installed where nasctl runs; ``context``: the Dockerfile, lock and sources;
``push``: the commands that build and push the image (Docker, else Cloud Build) and running them.
"""
