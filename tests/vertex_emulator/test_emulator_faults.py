"""Injected faults reach the real client as the service's transient errors, and slow answers are slow."""
from __future__ import annotations

import time

import pytest
from emulator_jobs import PARENT, custom_job
from google.api_core import exceptions


def test_the_next_calls_of_one_method_answer_503(client, emulator) -> None:
    name = client.create_custom_job(parent=PARENT, custom_job=custom_job("pass")).name
    emulator.faults.fail_next(2, http=503, method="GetCustomJob")
    for _ in range(2):
        with pytest.raises(exceptions.ServiceUnavailable):
            client.get_custom_job(name=name)
    list(client.list_custom_jobs(parent=PARENT))  # other methods are unaffected
    assert client.get_custom_job(name=name).name == name


def test_429_and_500_on_create(client, emulator) -> None:
    emulator.faults.fail_next(1, http=429)
    with pytest.raises(exceptions.TooManyRequests, match="'Job or LRO submission requests' .* per minute"):
        client.create_custom_job(parent=PARENT, custom_job=custom_job("pass"))
    emulator.faults.fail_next(1, http=500, method="CreateCustomJob")
    with pytest.raises(exceptions.InternalServerError):
        client.create_custom_job(parent=PARENT, custom_job=custom_job("pass"))
    assert list(client.list_custom_jobs(parent=PARENT)) == []  # a failed create created nothing


def test_a_fraction_of_calls_fail_until_cleared(client, emulator) -> None:
    emulator.faults.fail_fraction(0.5, http=503, method="ListCustomJobs")
    failures = 0
    for _ in range(20):
        try:
            list(client.list_custom_jobs(parent=PARENT))
        except exceptions.ServiceUnavailable:
            failures += 1
    assert 3 <= failures <= 17
    emulator.faults.clear()
    list(client.list_custom_jobs(parent=PARENT))


def test_slow_answers(client, emulator) -> None:
    emulator.faults.delay(0.3, method="ListCustomJobs", count=1)
    started = time.monotonic()
    list(client.list_custom_jobs(parent=PARENT))
    assert time.monotonic() - started >= 0.3
    assert emulator.faults.on_call("ListCustomJobs") == (0.0, None)  # count=1: the next call is not delayed
