"""Google Cloud stand-ins on this machine, started by the tests and the benchmarks: the fake GCS server
on loopback (gcs_server), the trainer container's ``/gcs/`` Cloud Storage FUSE mount over it (gcs_mount),
and stopping the processes they start (processes). The Vertex AI JobService stand-in is its own package,
``vertex_emulator``. Needs the ``test`` extra (the fake-gcs-server binary)."""
