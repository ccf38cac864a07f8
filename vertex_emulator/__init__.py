"""A local Vertex AI JobService (v1) that behaves like the service, for testing nasctl's cloud path.

The real ``google.cloud.aiplatform_v1.JobServiceClient`` talks to it over REST::

    with VertexEmulator(quotas={("us-central1", "NVIDIA_TESLA_T4"): 8}, time_scale=3600,
                        gcs_root=tmp_path / "gcs") as vertex:
        client = vertex.client()  # transport="rest", api_endpoint=vertex.endpoint, anonymous credentials
        vertex.faults.fail_next(2, http=503, method="GetCustomJob")
        vertex.preempt(job_name)

Modelled, with sources (``proto docs`` = the aiplatform_v1 type docstrings; ``nas`` = github
google/vertex-ai-nas; ``training service`` =
https://cloud.google.com/vertex-ai/docs/training/understanding-training-service):

* Requests (validation.py): bodies parsed into the real ``CustomJob`` / ``NasJob`` protos with unknown
  fields rejected; enum names and numbers checked (an unknown accelerator type is a 400); the fields the
  proto docs mark Required (display_name, worker pools with machine_type, replica_count and image_uri;
  NasJob search_trial_spec with its counts and job spec, metric and search_space_spec); boot disks of a
  documented type (``DiskSpec`` docs) and 100-64,000 GB; ``network`` as projects/<number>/global/networks/<name>
  and ``reserved_ip_ranges`` only with it; a CMEK key in the job's region (``EncryptionSpec`` docs); display
  names of at most 128 characters and labels by Google Cloud's rules (proto docs of ``display_name`` and
  ``labels``); a NasJob ``metric_id`` without whitespace (``MetricSpec`` docs); machine types the training
  service offers, each with the accelerators it takes (the training docs' GPU table and Compute Engine's N1
  GPU limits, kept in ``specs.vertex_machines``: the same table ``validate`` checks with); a resumed
  NasJob must not repeat search_space_spec, the algorithm or the metric (proto docs of
  ``resume_nas_job_id``; nas ``vertex_nas_cli.py`` clears exactly these on resume), and must not resume a
  job that was itself a resume (NAS client docs: "The previous search job should not itself be a resume
  job"; so a search runs 28 days at most, the seed's "다음 14일 동안"). Locations: NasJobs in
  8 regions (seed doc vertex-nas-overview: "8개 리전", of which it and the proxy-task seed name
  us-central1 and europe-west4; the other six are an assumption), CustomJobs in the Vertex AI training
  regions (https://cloud.google.com/vertex-ai/docs/general/locations). Errors are google JSON errors
  (``{"error": {"code", "message", "status"}}``); the REST client raises by HTTP status, so
  FAILED_PRECONDITION and INVALID_ARGUMENT both arrive as ``BadRequest`` (HTTP 400), as from the service.
* States (jobs.py, custom.py): QUEUED -> PENDING -> RUNNING -> SUCCEEDED | FAILED, cancel -> CANCELLING
  -> CANCELLED (error code 1); cancelling a finished job is FAILED_PRECONDITION; unknown job is 404;
  create/start/end/update times as the proto docs define them. A job waits in **QUEUED** while its
  region lacks accelerator quota (the training service "keeps the job queued until you have sufficient
  quotas"; the design anchors said PENDING), then in PENDING while its machines are found; Spot GPUs have a
  quota of their own. One needing more than the whole limit is refused with RESOURCE_EXHAUSTED (quota.py).
* Lists (listing.py): page_size / page_token / next_page_token; filters ``labels.k="v"``, ``labels.k:*``,
  ``state``, ``display_name`` joined by AND (the documented filter language's subset nasctl needs).
* Time (clock.py): ``scheduling.timeout`` (default 7 days, proto docs) in job time from start_time,
  then FAILED with DEADLINE_EXCEEDED; ``time_scale`` job seconds per wall second; a NasJob stops at 14
  days (seed doc) and FAILS with DEADLINE_EXCEEDED, to be resumed with ``resume_nas_job_id``.
* Request rates (rates.py): per project and region, 60 job submissions (creates) and 600 other requests
  a minute (https://cloud.google.com/vertex-ai/docs/quotas), over a sliding window of wall time; a request
  over its quota is a 429 "Quota exceeded for quota metric ... per minute per region", and uses none of it.
* Faults (faults.py): 429 / 500 / 503 for the next N calls or a seeded fraction, per RPC or all; delays.
  Preemption: ``preempt()`` kills a worker; it restarts (all workers with
  ``restart_job_on_worker_restart``), at most 5 times per worker (training service), then the job fails.
  Stockouts (capacity.py): the next N CustomJobs needing an accelerator in a region wait in PENDING, then
  FAIL with RESOURCE_EXHAUSTED "Resources are insufficient in region" without running their code; a NasJob
  trial meeting one is INFEASIBLE without running. A FLEX_START job (or NasJob trial) queues through the
  stockout instead, up to its ``scheduling.max_wait_duration``; validation.py refuses FLEX_START for GPUs
  Dynamic Workload Scheduler does not offer, or with a timeout over 7 days.
* Processes (runner.py): every replica of every pool runs ``command + args`` locally with
  ``CLOUD_ML_JOB_ID``, ``AIP_MODEL_DIR`` / ``AIP_CHECKPOINT_DIR`` / ``AIP_TENSORBOARD_LOG_DIR``,
  ``container_spec.env``, ``CLUSTER_SPEC`` for multi-replica jobs and ``NASCTL_GCS_FUSE_ROOT``
  (``/gcs/<bucket>/p`` is ``<gcs_root>/<bucket>/p``); all exit 0 -> SUCCEEDED, a non-zero exit -> FAILED
  "The replica workerpoolN-I exited with a non-zero status of C"; one log file per replica.
* NasJobs (nas.py): PyGlove DNA-spec search spaces, seeded random proposals for REINFORCEMENT_LEARNING
  and in-order enumeration for GRID_SEARCH, trials with ``--nas_params_str`` and ``CLOUD_ML_TRIAL_ID``,
  metrics read as nas ``metrics_reporter.py`` writes them (``CLOUD_ML_HP_METRIC_FILE``, the chief's), parallel /
  total / failed trial limits, stage-2 training of the top trials every ``frequency`` search trials,
  ``nasTrialDetails`` list and get, resume.

Not modelled: container images (``image_uri`` is recorded, never pulled: commands run on this machine's
Python), ``python_package_spec`` pools, the real RL controller, TPU topologies and reservations,
SPOT scheduling beyond its own GPU quota (quota.py; Spot preemption is what ``preempt()`` injects),
networking and encryption beyond the checks above, Vertex's own retries of internal errors, the trial
early-stopping and ``failed_with_nan_error`` statuses, OR / NOT / create_time filters (they answer 400),
``read_mask``, delete and other JobService resources (HyperparameterTuningJobs, BatchPredictionJobs,
...; they answer 501), IAM, the exact wording of messages the service was not seen to use (timeout and
14-day messages are the emulator's own), long-running operations, and the gRPC transport.
"""
from vertex_emulator.server import GCS_FUSE_ROOT_ENV, VertexEmulator

__all__ = ["GCS_FUSE_ROOT_ENV", "VertexEmulator"]
