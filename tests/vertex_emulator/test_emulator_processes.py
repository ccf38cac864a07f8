"""Worker pools run as real processes with the environment Vertex gives them."""
from __future__ import annotations

import json
import sys
import time

from emulator_jobs import PARENT, custom_job, wait_for

from tests.support.processes import pid_alive

CHECK_ENV = """
import json, os, sys
spec = json.loads(os.environ["CLUSTER_SPEC"])
index = spec["task"]["index"]
assert spec["task"]["type"] == "workerpool0", spec
assert len(spec["cluster"]["workerpool0"]) == 2, spec
assert os.environ["AIP_MODEL_DIR"] == "gs://bucket/out/model/", os.environ["AIP_MODEL_DIR"]
assert os.environ["AIP_CHECKPOINT_DIR"] == "gs://bucket/out/checkpoints/"
assert os.environ["GREETING"] == "hello"
print(json.dumps({"index": index, "job": os.environ["CLOUD_ML_JOB_ID"],
                  "fuse": os.environ.get("NASCTL_GCS_FUSE_ROOT"), "args": sys.argv[1:]}))
"""


def test_two_replicas_get_cluster_spec_job_id_output_dirs_env_and_the_gcs_root(make_emulator, tmp_path) -> None:
    emulator = make_emulator(gcs_root=tmp_path / "gcs")
    client = emulator.client()
    job = custom_job(CHECK_ENV, replicas=2, env={"GREETING": "hello"})
    job.job_spec.worker_pool_specs[0].container_spec.args = ["--flag", "x"]
    created = client.create_custom_job(parent=PARENT, custom_job=job)
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED", done.error.message
    job_id = created.name.rsplit("/", 1)[1]
    seen = [json.loads((emulator.job_dir(created.name) / f"workerpool0-{i}.log").read_text()) for i in (0, 1)]
    assert [s["index"] for s in seen] == [0, 1]
    assert {s["job"] for s in seen} == {job_id}
    assert {s["fuse"] for s in seen} == {str((tmp_path / "gcs").resolve())}
    assert seen[0]["args"] == ["--flag", "x"]


def test_a_single_replica_job_has_no_cluster_spec(client, emulator) -> None:
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job(
        "import os, sys; sys.exit('CLUSTER_SPEC' in os.environ)"))
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"


def test_one_failing_replica_fails_the_job_and_stops_the_others(client, emulator) -> None:
    code = ("import json, os, sys, time\n"
            "index = json.loads(os.environ['CLUSTER_SPEC'])['task']['index']\n"
            "print(os.getpid(), flush=True)\n"
            "time.sleep(1) if index == 1 else time.sleep(60)\n"
            "sys.exit(7)\n")
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job(code, replicas=2))
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_FAILED"
    assert "workerpool0-1 exited with a non-zero status of 7" in done.error.message
    sleeper = int((emulator.job_dir(created.name) / "workerpool0-0.log").read_text().split()[0])
    deadline = time.monotonic() + 10
    while pid_alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(sleeper), "replica 0 still runs after the job failed"




def test_a_pool_without_command_uses_the_configured_image_entrypoint(make_emulator) -> None:
    image = "us-docker.pkg.dev/proj/repo/trainer:1"
    emulator = make_emulator(image_entrypoints={image: [sys.executable, "-c", "print('entrypoint ran')"]})
    client = emulator.client()
    job = custom_job()
    del job.job_spec.worker_pool_specs[0].container_spec.command[:]
    created = client.create_custom_job(parent=PARENT, custom_job=job)
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"
    assert "entrypoint ran" in (emulator.job_dir(created.name) / "workerpool0-0.log").read_text()
