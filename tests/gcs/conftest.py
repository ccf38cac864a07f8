from gcs_server import gcs_bucket, gcs_url  # noqa: F401 - fixtures
