"""Rate quotas per project and region: 60 job submissions and 600 other requests a minute, as the service
counts them; a request over its quota is a 429 that passes, and a refused request uses none of the quota."""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from emulator_jobs import PARENT, custom_job
from google.api_core import exceptions
from hypothesis import given, settings
from hypothesis import strategies as st

from vertex_emulator import VertexEmulator
from vertex_emulator.errors import ApiError
from vertex_emulator.rates import CRUD, DEFAULT_RATE_LIMITS, SUBMISSION, RateQuotas, request_kind

EUROPE = "projects/proj/locations/europe-west4"


def test_the_service_limits_are_the_default() -> None:
    assert DEFAULT_RATE_LIMITS == {SUBMISSION: 60, CRUD: 600}
    assert [request_kind(rpc) for rpc in ("CreateCustomJob", "CreateNasJob", "DeleteCustomJob")] == [SUBMISSION] * 3
    assert {request_kind(rpc) for rpc in ("GetCustomJob", "ListNasJobs", "CancelCustomJob",
                                          "ListNasTrialDetails", "GetNasTrialDetail")} == {CRUD}


def test_creates_past_the_submission_quota_answer_429_until_the_window_passes(
        make_emulator: Callable[..., VertexEmulator]) -> None:
    emulator = make_emulator(rate_limits={SUBMISSION: 2, CRUD: 1000}, rate_window_s=1.5)
    client = emulator.client()
    for _ in range(2):
        client.create_custom_job(parent=PARENT, custom_job=custom_job("pass"))
    with pytest.raises(exceptions.TooManyRequests, match="Job or LRO submission requests per minute per region"):
        client.create_custom_job(parent=PARENT, custom_job=custom_job("pass"))
    client.create_custom_job(parent=EUROPE, custom_job=custom_job("pass"))  # each region has its own quota
    assert len(list(client.list_custom_jobs(parent=PARENT))) == 2  # reads count against the other quota
    time.sleep(1.6)
    client.create_custom_job(parent=PARENT, custom_job=custom_job("pass"))
    assert emulator.rates.refused == {SUBMISSION: 1}


def test_reads_past_the_crud_quota_answer_429_and_refused_ones_use_none_of_it(
        make_emulator: Callable[..., VertexEmulator]) -> None:
    emulator = make_emulator(rate_limits={CRUD: 3}, rate_window_s=1.0)
    client = emulator.client()
    name = client.create_custom_job(parent=PARENT, custom_job=custom_job("pass")).name  # submissions unlimited
    for _ in range(3):
        client.get_custom_job(name=name)
    for _ in range(4):
        with pytest.raises(exceptions.TooManyRequests, match="Resource management \\(CRUD\\) requests"):
            client.get_custom_job(name=name)
    time.sleep(1.1)  # the 3 admitted ones left the window; the 4 refused ones never counted
    for _ in range(3):
        client.get_custom_job(name=name)
    assert emulator.rates.refused == {CRUD: 4}


@settings(max_examples=50, deadline=None)
@given(limit=st.integers(1, 5), calls=st.lists(st.sampled_from(["CreateCustomJob", "GetCustomJob"]), max_size=20))
def test_within_one_window_each_kind_admits_exactly_its_limit(limit: int, calls: list[str]) -> None:
    rates = RateQuotas({SUBMISSION: limit, CRUD: limit}, window_s=3600)
    admitted: dict[str, int] = {SUBMISSION: 0, CRUD: 0}
    for rpc in calls:
        try:
            rates.admit(rpc, "proj", "us-central1")
            admitted[request_kind(rpc)] += 1
        except ApiError as error:
            assert error.http == 429
    for kind in (SUBMISSION, CRUD):
        wanted = sum(request_kind(rpc) == kind for rpc in calls)
        assert admitted[kind] == min(limit, wanted)
        assert rates.refused[kind] == wanted - admitted[kind]


def test_an_unknown_quota_is_refused() -> None:
    with pytest.raises(ValueError, match="rate limits are per"):
        RateQuotas({"predictions": 10})
