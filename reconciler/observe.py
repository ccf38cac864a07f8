"""Observation: every read a pass needs, done before planning so the plan is a pure function.

The backend is asked about each unfinished trial (state, result, curve, stop signal in force, whether
a helper job is wanted), about finished trials whose curves a proxy-task stage compares, and about
the helper jobs it runs; the proxy-task candidates a user generator returns are loaded here too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backends.base import Backend, TrialObservation
from reconciler.stages.candidates import Candidates, load_candidates
from specs.model import NASExperiment
from state.snapshot import ExperimentState

if TYPE_CHECKING:
    from reconciler.stages.base import Stage


@dataclass
class Observed:
    trials: dict[str, TrialObservation] = field(default_factory=dict)
    helpers_wanted: frozenset[str] = frozenset()  # running trials waiting for a helper job (a latency calculator)
    helpers_live: frozenset[str] = frozenset()  # trials whose helper job was started already
    candidates: Candidates = field(default_factory=Candidates)


def observe(experiment: NASExperiment, state: ExperimentState, backend: Backend, stages: list["Stage"]) -> Observed:
    curves_of = {stage.name for stage in stages if stage.needs_curves}
    wanted = [t.id for t in state.trials.values() if not t.terminal or t.stage in curves_of]
    observed = Observed(trials={trial_id: backend.observe(trial_id) for trial_id in wanted})
    running = [trial_id for trial_id in observed.trials if not state.trials[trial_id].terminal]
    observed.helpers_wanted, observed.helpers_live = backend.observe_helpers(running)
    if experiment.spec.proxy_task_search is not None:
        observed.candidates = load_candidates(experiment)
    return observed
