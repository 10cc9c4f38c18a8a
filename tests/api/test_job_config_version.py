"""A job's config is stored with its version and shown in this release's form: GET /jobs/{id}
reads the same for a job stored now and for one stored by the previous release, and what it
shows is what `from_dict(RunConfig, ...)` reads."""

from __future__ import annotations

from enas_core.config import RunConfig, from_dict, to_dict
from enas_core.config_migrations import CONFIG_VERSION
from enas_service.models import Job
from tests.conftest import TINY_JOB
from tests.enas_core.helpers import previous_release_config


def test_a_new_job_stores_the_version_and_shows_the_engine_config(client, alice, db_session):
    job = client.post("/jobs", json={"dataset": "digits", **TINY_JOB}, headers=alice).json()
    row = db_session.get(Job, job["id"])
    assert row.config["config_version"] == CONFIG_VERSION
    assert job["config"] == {k: v for k, v in row.config.items() if k != "config_version"}
    assert to_dict(from_dict(RunConfig, job["config"])) == job["config"]


def test_a_job_of_the_previous_release_shows_its_config(client, alice, db_session):
    job = client.post("/jobs", json={"dataset": "digits", **TINY_JOB}, headers=alice).json()
    row = db_session.get(Job, job["id"])
    row.config = previous_release_config()  # as the previous release stored it
    db_session.flush()
    shown = client.get(f"/jobs/{job['id']}", headers=alice).json()["config"]
    # Version 2 made an unset selection stage automatic: the step writes out the "off" the
    # old job ran with.
    assert shown == previous_release_config() | {"select": {"candidates": 0}}
    assert from_dict(RunConfig, shown).search.constraints.max_params == 200_000
