"""`nasctl report --html`: one self-contained HTML page of an experiment, built from recorded state only.

``model`` turns state into a JSON-ready view model, ``page`` renders it (inline CSS, JS and images, so
the file opens without network), ``watch`` rewrites it while ``apply`` runs, never taking the lock.
"""
