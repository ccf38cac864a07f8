"""The stage graph as data: which stages exist, which spec field turns each on, what each waits for.

Read by the pass (plan and apply), by `nasctl diff`, by the status record and by the cost preview,
so the order and the dependencies of stages are written here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

from reconciler.stages.base import Stage
from reconciler.stages.model_selection import ModelSelectionStage
from reconciler.stages.proxy_task_search import ProxyTaskSearchStage
from reconciler.stages.search import SearchStage
from reconciler.stages.train import TrainStage
from reconciler.stages.variance_measurement import VarianceMeasurementStage
from specs.model import NASExperiment
from state.records import MODEL_SELECTION, PROXY_TASK_SEARCH, SEARCH, TRAIN, VARIANCE


@dataclass(frozen=True)
class StageNode:
    name: str
    spec_field: str | None  # the ExperimentSpec field that turns the stage on; None: always on
    stage: type[Stage]
    depends_on: tuple[str, ...]  # stages that must be complete first (when they are on)


STAGE_GRAPH: tuple[StageNode, ...] = (
    StageNode(VARIANCE, "variance_measurement", VarianceMeasurementStage, ()),
    StageNode(MODEL_SELECTION, "model_selection", ModelSelectionStage, (VARIANCE,)),
    StageNode(PROXY_TASK_SEARCH, "proxy_task_search", ProxyTaskSearchStage, (MODEL_SELECTION,)),
    StageNode(SEARCH, None, SearchStage, (VARIANCE, MODEL_SELECTION, PROXY_TASK_SEARCH)),
    StageNode(TRAIN, "train", TrainStage, (SEARCH,)),  # with train.frequency it starts before search ends
)
STAGE_NAMES = tuple(node.name for node in STAGE_GRAPH)


def node_enabled(node: StageNode, experiment: NASExperiment) -> bool:
    return node.spec_field is None or getattr(experiment.spec, node.spec_field) is not None


def enabled_nodes(experiment: NASExperiment) -> list[StageNode]:
    return [node for node in STAGE_GRAPH if node_enabled(node, experiment)]


def enabled_stages(experiment: NASExperiment) -> list[Stage]:
    """The stages the spec asks for, in graph order, each knowing the enabled stages it waits for."""
    on = {node.name for node in enabled_nodes(experiment)}
    return [node.stage(tuple(dep for dep in node.depends_on if dep in on)) for node in enabled_nodes(experiment)]


def planned_trials(experiment: NASExperiment) -> int:
    """How many trials the experiment's stages plan in all (proxy-task stages, search, stage 2)."""
    return sum(stage.cost_shape(experiment).trials for stage in enabled_stages(experiment))
