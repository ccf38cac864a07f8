"""Vertex AI: CustomJob trials, the NasJob search, job requests and labels."""
