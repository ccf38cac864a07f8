"""The GitOps example: the workflow runs what docs/gitops.md says, and its experiments are valid."""
from __future__ import annotations

from pathlib import Path

import yaml

from specs.loader import parse_experiment

GITOPS = Path(__file__).resolve().parents[3] / "examples" / "gitops"


def _workflow() -> dict:
    return yaml.safe_load((GITOPS / ".github" / "workflows" / "nasctl.yml").read_text())


def _run_lines(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_triggers_pull_requests_merges_and_a_schedule() -> None:
    triggers = _workflow()[True]  # YAML 1.1 reads the key `on` as True
    assert {"pull_request", "push", "schedule"} <= set(triggers)
    assert triggers["push"]["branches"] == ["main"] and triggers["schedule"][0]["cron"]


def test_pull_requests_validate_diff_and_preview_cost_without_applying() -> None:
    plan = _workflow()["jobs"]["plan"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    commands = _run_lines(plan)
    assert "nasctl validate" in commands and "nasctl cost" in commands
    assert 'nasctl diff -f "$SPECS" --detailed-exitcode' in commands
    assert "nasctl apply" not in commands


def test_merges_and_schedules_apply_with_yes() -> None:
    apply = _workflow()["jobs"]["apply"]
    assert apply["if"] == "github.event_name != 'pull_request'"
    assert "nasctl apply -f \"$spec\" --yes" in _run_lines(apply)
    assert apply["concurrency"]["cancel-in-progress"] is False


def test_example_experiments_are_valid_and_keep_state_in_gcs() -> None:
    specs = sorted((GITOPS / "experiments").glob("*.yaml"))
    assert specs
    for path in specs:
        experiment = parse_experiment(path.read_text(), str(path))
        assert experiment.spec.state_uri.startswith("gs://")


def test_every_step_covers_the_specs_diff_plans_yaml_and_yml(tmp_path: Path) -> None:
    """Each loop runs in bash against a folder of a .yaml and a .yml spec, with a nasctl that logs its calls."""
    import os  # noqa: PLC0415
    import stat  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    specs = tmp_path / "experiments"
    specs.mkdir()
    (specs / "a.yaml").write_text("")
    (specs / "b.yml").write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nasctl"
    fake.write_text(f'#!/bin/sh\necho "$1 $3" >> {tmp_path / "calls"}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", SPECS=str(specs), APPLY_MINUTES="1",
               GITHUB_STEP_SUMMARY=str(tmp_path / "summary"))
    jobs = _workflow()["jobs"]
    for job, name, command in (("plan", "Validate every spec", "validate"), ("plan", "Cost preview", "cost"),
                               ("apply", "Apply every spec", "apply"), ("apply", "Status", "status")):
        (step,) = [s for s in jobs[job]["steps"] if s.get("name") == name]
        (tmp_path / "calls").unlink(missing_ok=True)
        subprocess.run(["bash", "-e", "-c", step["run"]], env=env, check=True, timeout=60)
        assert (tmp_path / "calls").read_text().split("\n")[:-1] == [f"{command} {specs / 'a.yaml'}",
                                                                     f"{command} {specs / 'b.yml'}"], name
