"""List calls page the way the client's pager expects and filter by labels, state and display name."""
from __future__ import annotations

import pytest
from emulator_jobs import PARENT, custom_job, wait_for
from google.api_core import exceptions


def test_the_pager_walks_three_pages(client, emulator) -> None:
    names = [client.create_custom_job(parent=PARENT, custom_job=custom_job("pass", labels={"exp": "a"})).name
             for _ in range(7)]
    pager = client.list_custom_jobs(request={"parent": PARENT, "page_size": 3})
    pages = list(pager.pages)
    assert [len(page.custom_jobs) for page in pages] == [3, 3, 1]
    assert pages[0].next_page_token and not pages[-1].next_page_token
    assert [job.name for page in pages for job in page.custom_jobs] == names
    lists = [r for r in emulator.requests if r.method == "GET" and r.path.endswith("/customJobs")]
    assert [r.query.get("pageToken") is not None for r in lists] == [False, True, True]


def test_label_filters_are_joined_by_and(client) -> None:
    labelled = [{"exp": "a", "stage": "search"}, {"exp": "a", "stage": "train"}, {"exp": "b", "stage": "search"}]
    names = [client.create_custom_job(parent=PARENT, custom_job=custom_job("pass", labels=labels)).name
             for labels in labelled]
    found = client.list_custom_jobs(request={"parent": PARENT, "filter": 'labels.exp="a" AND labels.stage="search"'})
    assert [job.name for job in found] == [names[0]]
    assert len(list(client.list_custom_jobs(request={"parent": PARENT, "filter": "labels.exp=a"}))) == 2
    assert len(list(client.list_custom_jobs(request={"parent": PARENT, "filter": "labels.stage:*"}))) == 3
    assert list(client.list_custom_jobs(request={"parent": PARENT, "filter": 'labels.exp="c"'})) == []


def test_state_filter_and_other_locations(client) -> None:
    done = client.create_custom_job(parent=PARENT, custom_job=custom_job("pass")).name
    wait_for(client, done)
    other = "projects/proj/locations/europe-west4"
    client.create_custom_job(parent=other, custom_job=custom_job("pass"))
    succeeded = client.list_custom_jobs(request={"parent": PARENT, "filter": 'state="JOB_STATE_SUCCEEDED"'})
    assert [job.name for job in succeeded] == [done]
    assert len(list(client.list_custom_jobs(parent=other))) == 1


def test_unsupported_filters_and_foreign_page_tokens_are_invalid(client) -> None:
    client.create_custom_job(parent=PARENT, custom_job=custom_job("pass"))
    client.create_custom_job(parent=PARENT, custom_job=custom_job("pass"))
    with pytest.raises(exceptions.BadRequest, match="Unsupported filter"):
        list(client.list_custom_jobs(request={"parent": PARENT, "filter": 'labels.a="x" OR labels.b="y"'}))
    first = client.list_custom_jobs(request={"parent": PARENT, "page_size": 1})
    token = next(iter(first.pages)).next_page_token
    with pytest.raises(exceptions.BadRequest, match="page_token"):
        list(client.list_custom_jobs(request={"parent": PARENT, "page_token": token, "filter": "labels.a=x"}))
