"""Request validation against the real aiplatform_v1 protos and the service's documented rules.

A create body is parsed with ``json_format.Parse(..., ignore_unknown_fields=False)`` into the raw
protobuf class of ``CustomJob`` / ``NasJob``, so an unknown field or an unknown enum name is
rejected exactly where the service's own JSON parser rejects it. The REST client sends enums as
integers (``enum-encoding=int``) and proto3 enums accept any integer, so enum numbers are checked
against the descriptor afterwards. Then the fields the service marks ``Required`` are checked.
"""
from __future__ import annotations

import re
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from specs.vertex import MAX_FLEX_START_SECONDS
from specs.vertex_machines import flex_start_problem, is_known_family, machine_problem
from vertex_emulator.capacity import FLEX_START
from vertex_emulator.errors import ApiError, invalid

# The seed doc (shared/seeds/vertex-nas-overview.ko.txt) says NAS runs in 8 regions but does not name
# them; it and the proxy-task seed name us-central1 and europe-west4. The other six are the training
# regions with the broadest GPU offer; pass `nas_regions=` to VertexEmulator to change the list.
NAS_REGIONS = frozenset({"us-central1", "us-east1", "us-east4", "us-west1", "europe-west1", "europe-west4",
                         "asia-east1", "asia-northeast1"})
# Vertex AI custom-training regions, from https://cloud.google.com/vertex-ai/docs/general/locations.
TRAINING_REGIONS = NAS_REGIONS | frozenset({
    "us-west2", "us-west3", "us-west4", "us-south1", "us-east5", "northamerica-northeast1",
    "northamerica-northeast2", "southamerica-east1", "europe-west2", "europe-west3", "europe-west6",
    "europe-west8", "europe-west9", "europe-north1", "europe-central2", "europe-southwest1", "asia-east2",
    "asia-northeast3", "asia-south1", "asia-southeast1", "australia-southeast1", "me-west1"})


# DiskSpec's documented boot disk types and Vertex's size bounds (default pd-ssd, 100 GB).
BOOT_DISK_TYPES = ("pd-ssd", "pd-standard", "hyperdisk-balanced")
MIN_BOOT_DISK_GB, MAX_BOOT_DISK_GB = 100, 64_000
# The job resources' display name and labels limits (CustomJob / NasJob field docs; Cloud labels rules).
MAX_DISPLAY_NAME = 128
MAX_LABELS, MAX_LABEL_CHARS = 64, 64
_NETWORK = re.compile(r"projects/[0-9]+/global/networks/[^/]+")
_KMS_KEY = re.compile(r"projects/[^/]+/locations/(?P<region>[^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+")


def parse(body: bytes, message_class: type[Message]) -> Message:
    """`body` as a `message_class`; unknown fields, bad enum names or numbers -> 400."""
    try:
        message = json_format.Parse(body or b"{}", message_class(), ignore_unknown_fields=False)
    except json_format.ParseError as error:
        raise invalid(f"Invalid JSON payload received. {error}") from None
    _check_enums(message, message_class.DESCRIPTOR.name)
    return message


def _check_enums(message: Message, path: str) -> None:
    for field, value in message.ListFields():
        where = f"{path}.{field.name}"
        values = value if field.is_repeated else [value]
        if field.type == FieldDescriptor.TYPE_ENUM:
            for number in values:
                if number not in field.enum_type.values_by_number:
                    raise invalid(f"Invalid value at '{where}' ({field.enum_type.full_name}), {number}")
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                continue
            for item in values:
                _check_enums(item, where)


def check_location(location: str, regions: frozenset[str]) -> None:
    if location not in regions:
        raise invalid(f"Location '{location}' is not supported for this resource. Supported: {sorted(regions)}")


def _require(condition: Any, field: str) -> None:
    if not condition:
        raise invalid(f"{field} is required.")


def check_job_spec(spec: Any, path: str) -> None:
    """A CustomJobSpec: worker pool 0 complete; later pools either complete or empty placeholders."""
    _require(len(spec.worker_pool_specs), f"{path}.worker_pool_specs")
    for index, pool in enumerate(spec.worker_pool_specs):
        where = f"{path}.worker_pool_specs[{index}]"
        if index > 0 and not pool.ListFields():
            continue
        _require(pool.machine_spec.machine_type, f"{where}.machine_spec.machine_type")
        _require(pool.replica_count > 0, f"{where}.replica_count")
        _require(pool.HasField("container_spec") and pool.container_spec.image_uri,
                 f"{where}.container_spec.image_uri")
        _check_machine(pool.machine_spec, f"{where}.machine_spec")
        disk = pool.disk_spec
        if disk.boot_disk_type and disk.boot_disk_type not in BOOT_DISK_TYPES:
            raise invalid(f"{where}.disk_spec.boot_disk_type must be one of {', '.join(BOOT_DISK_TYPES)}.")
        if disk.boot_disk_size_gb and not MIN_BOOT_DISK_GB <= disk.boot_disk_size_gb <= MAX_BOOT_DISK_GB:
            raise invalid(f"{where}.disk_spec.boot_disk_size_gb must be between {MIN_BOOT_DISK_GB} and "
                          f"{MAX_BOOT_DISK_GB}.")
    if spec.scheduling.timeout.seconds < 0:
        raise invalid(f"{path}.scheduling.timeout must not be negative.")
    if spec.scheduling.strategy == FLEX_START:
        _check_flex_start(spec, path)
    if spec.reserved_ip_ranges and not spec.network:
        raise invalid(f"{path}.reserved_ip_ranges needs {path}.network: they are ranges of that VPC network.")
    if spec.network and not _NETWORK.fullmatch(spec.network):
        raise invalid(f"{path}.network must be projects/{{project number}}/global/networks/{{network}}.")


def _check_flex_start(spec: Any, path: str) -> None:
    """Dynamic Workload Scheduler's requirements: its GPUs, a timeout of 7 days or less (the unset default is 7
    days), the same machine in every worker pool."""
    machines = {pool.machine_spec.SerializeToString(deterministic=True) for pool in spec.worker_pool_specs
                if pool.ListFields()}
    if len(machines) > 1:
        raise invalid(f"{path}: a FLEX_START job needs the same machine_spec in every worker pool.")
    machine = spec.worker_pool_specs[0].machine_spec
    problem = flex_start_problem(_accelerator_name(machine))
    if problem is not None:
        raise invalid(f"{path}.scheduling.strategy: {problem}.")
    if spec.scheduling.timeout.seconds > MAX_FLEX_START_SECONDS:
        raise invalid(f"{path}.scheduling.timeout: a FLEX_START job runs at most {MAX_FLEX_START_SECONDS}s "
                      "(7 days).")


def _accelerator_name(machine: Any) -> str | None:
    return (machine.DESCRIPTOR.fields_by_name["accelerator_type"].enum_type
            .values_by_number[machine.accelerator_type].name if machine.accelerator_type else None)


def _check_machine(machine: Any, where: str) -> None:
    """The machine type exists and takes these accelerators (specs.vertex_machines holds the service's table)."""
    if machine.accelerator_count and not machine.accelerator_type:
        raise invalid(f"{where}.accelerator_type is required when accelerator_count is set.")
    if not is_known_family(machine.machine_type):
        raise invalid(f'Machine type "{machine.machine_type}" is not supported.')
    problem = machine_problem(machine.machine_type, _accelerator_name(machine), machine.accelerator_count)
    if problem is not None:
        raise invalid(f"{where}: {problem}.")


def check_metadata(job: Any, kind: str) -> None:
    """The display name and labels rules every Vertex job states: a name of at most 128 characters; at most
    64 labels, keys and values of at most 64 lowercase letters (international ones too), digits, ``_`` and
    ``-``, keys starting with a letter."""
    _require(job.display_name, f"{kind}.display_name")
    if len(job.display_name) > MAX_DISPLAY_NAME:
        raise invalid(f"{kind}.display_name can be up to {MAX_DISPLAY_NAME} characters long, got "
                      f"{len(job.display_name)}.")
    if len(job.labels) > MAX_LABELS:
        raise invalid(f"{kind}.labels: at most {MAX_LABELS} labels, got {len(job.labels)}.")
    for key, value in job.labels.items():
        if not (key[:1].isalpha() and key[:1].islower()) or not _label_text(key) or not _label_text(value):
            raise invalid(f"{kind}.labels: invalid label {key!r}: {value!r}. Label keys and values can be no longer "
                          f"than {MAX_LABEL_CHARS} characters and can only contain lowercase letters, numeric "
                          "characters, underscores and dashes; keys start with a letter.")


def _label_text(text: str) -> bool:
    return len(text) <= MAX_LABEL_CHARS and all(
        char in "_-" or char.isdigit() or (char.isalpha() and char == char.lower()) for char in text)


def check_encryption(job: Any, region: str) -> None:
    """EncryptionSpec: "The key needs to be in the same region as where the compute resource is created"."""
    if not job.HasField("encryption_spec"):
        return
    match = _KMS_KEY.fullmatch(job.encryption_spec.kms_key_name)
    if match is None:
        raise invalid("encryption_spec.kms_key_name must be "
                      "projects/{project}/locations/{location}/keyRings/{key_ring}/cryptoKeys/{key}.")
    if match["region"] != region:
        raise invalid(f"encryption_spec.kms_key_name is in {match['region']}; the key must be in {region}, "
                      "where the job runs.")


def check_custom_job(job: Any) -> None:
    check_metadata(job, "custom_job")
    _require(job.HasField("job_spec"), "custom_job.job_spec")
    check_job_spec(job.job_spec, "custom_job.job_spec")


def check_nas_job(job: Any) -> None:
    """NasJob rules (proto field docs); with `resume_nas_job_id` the search space, algorithm and metric
    come from the resumed job and must not be given again (vertex_nas_cli.py's resume clears exactly these)."""
    check_metadata(job, "nas_job")
    spec = job.nas_job_spec
    _require(job.HasField("nas_job_spec"), "nas_job.nas_job_spec")
    _require(spec.HasField("multi_trial_algorithm_spec"), "nas_job.nas_job_spec.multi_trial_algorithm_spec")
    algo = spec.multi_trial_algorithm_spec
    if spec.resume_nas_job_id:
        for given, field in ((spec.search_space_spec, "search_space_spec"),
                             (algo.multi_trial_algorithm, "multi_trial_algorithm_spec.multi_trial_algorithm"),
                             (algo.HasField("metric"), "multi_trial_algorithm_spec.metric")):
            if given:
                raise invalid(f"nas_job.nas_job_spec.{field} must not be set when resume_nas_job_id is set: "
                              "it is taken from the resumed NasJob.")
    else:
        _require(spec.search_space_spec, "nas_job.nas_job_spec.search_space_spec")
        _require(algo.metric.metric_id, "nas_job.nas_job_spec.multi_trial_algorithm_spec.metric.metric_id")
        if re.search(r"\s", algo.metric.metric_id):
            raise invalid("nas_job.nas_job_spec.multi_trial_algorithm_spec.metric.metric_id must not contain "
                          "whitespaces.")
    search = algo.search_trial_spec
    where = "nas_job.nas_job_spec.multi_trial_algorithm_spec.search_trial_spec"
    _require(algo.HasField("search_trial_spec"), where)
    _require(search.max_trial_count > 0, f"{where}.max_trial_count")
    _require(search.max_parallel_trial_count > 0, f"{where}.max_parallel_trial_count")
    if search.max_failed_trial_count < 0:
        raise invalid(f"{where}.max_failed_trial_count must not be negative.")
    _require(search.HasField("search_trial_job_spec"), f"{where}.search_trial_job_spec")
    check_job_spec(search.search_trial_job_spec, f"{where}.search_trial_job_spec")
    if algo.HasField("train_trial_spec"):
        train = algo.train_trial_spec
        where = "nas_job.nas_job_spec.multi_trial_algorithm_spec.train_trial_spec"
        _require(train.HasField("train_trial_job_spec"), f"{where}.train_trial_job_spec")
        check_job_spec(train.train_trial_job_spec, f"{where}.train_trial_job_spec")
        _require(train.max_parallel_trial_count > 0, f"{where}.max_parallel_trial_count")
        _require(train.frequency > 0, f"{where}.frequency")


def not_found(name: str) -> ApiError:
    return ApiError("NOT_FOUND", f'The resource "{name}" was not found.')
