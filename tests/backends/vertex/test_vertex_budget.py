"""spec.budget on Vertex CustomJobs, against the emulator: launches priced from the catalog stop at the budget."""
from __future__ import annotations

import pytest

from backends.vertex.custom_jobs import VertexCustomJobBackend
from pricing.catalog import load_catalog
from reconciler.apply import Reconciler
from reconciler.budget import BUDGET_EXHAUSTED
from specs.model import BudgetSpec
from state.uri import open_store
from tests.support.vertex_emulated import vertex_experiment

pytestmark = pytest.mark.slow  # the emulator runs trial processes


def test_a_budget_below_two_trials_launches_one_custom_job_and_blocks_the_next(vertex, gcs_bucket):
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, max_trials=3, parallel=2,
                                   search={"trainerArgs": {"mode": "proxy", "delaySeconds": 30}})
    hourly = load_catalog(experiment.spec.backend).hourly(experiment.spec.backend.search)  # hoursPerTrial: 1
    experiment.spec.budget = BudgetSpec(max_cost_usd=1.5 * hourly)
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    result = Reconciler(experiment, store, VertexCustomJobBackend(experiment)).run_pass()
    jobs = list(vertex.client().list_custom_jobs(parent="projects/proj/locations/us-central1"))
    assert len(jobs) == 1
    [blocked] = [a for a in result.plan.actions if a.blocked]
    assert blocked.trial_id == "search-0001" and f"next search trial ${hourly:,.2f}" in blocked.reason
    assert result.state.experiment.conditions[0].reason == BUDGET_EXHAUSTED
    assert result.state.experiment.phase == "Running"  # the running trial finishes; nothing is stopped
