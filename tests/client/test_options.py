"""The client's option checks: the packaged schema is the API's (tested against the live
service in test_client.py), and the checks give the server's messages, naming the field."""

from __future__ import annotations

import pytest

from enas_client import Client, ValidationError, option_names, validate_options
from enas_client.options import packaged_schema, problems, schema_from_openapi


def test_the_packaged_schema_is_the_apis_job_create():
    from api.main import create_app

    assert schema_from_openapi(create_app().openapi()) == packaged_schema(), (
        "the API's job options changed: run `python clients/python/update_schema.py`"
    )


def test_every_option_name_of_the_api_is_known():
    from api.schemas import JobCreate

    assert set(option_names()) == set(JobCreate.model_fields)


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"search_epochs": 0}, "search_epochs", "greater than or equal to 1"),
        ({"search_epochs": 10_001}, "search_epochs", "less than or equal to 10000"),
        ({"search_epochs": "five"}, "search_epochs", "a valid integer"),
        ({"search_epochs": 2.5}, "search_epochs", "a valid integer"),
        ({"search_lr": 0}, "search_lr", "greater than 0"),
        ({"space": "nano"}, "space", "Input should be 'micro' or 'macro'"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"max_params": True}, "max_params", "a valid integer"),
        ({"max_latency_ms": float("inf")}, "max_latency_ms", "finite"),
        ({"constraint_weight": 0.5}, "constraint_weight", "less than 0"),
        ({"search_epoch": 5}, "search_epoch", "did you mean 'search_epochs'"),
    ],
)
def test_bad_options_name_the_field(options, field, message):
    with pytest.raises(ValidationError) as caught:
        validate_options({"dataset": "digits", **options})
    assert caught.value.field == field
    assert caught.value.status == 422
    assert message in caught.value.detail


def test_good_options_pass():
    validate_options({"dataset": "digits", "preset": "quick", "search_epochs": 3,
                      "search_lr": 0.05, "space": "macro", "max_params": 250_000,
                      "max_latency_ms": 5, "seed": 0, "name": None})
    assert problems({"dataset": "digits", "search_epochs": 3.0}) == []  # 3.0 is an integer


def test_the_dataset_is_required():
    with pytest.raises(ValidationError) as caught:
        validate_options({"preset": "quick"})
    assert caught.value.field == "dataset"


def test_the_client_refuses_bad_options_before_sending():
    # Nothing listens on port 9: a request would fail with TransportError, not this.
    with Client("http://127.0.0.1:9", "key") as client, pytest.raises(ValidationError) as caught:
        client.submit("digits", search_epochs=-1)
    assert caught.value.field == "search_epochs"


def test_a_missing_file_is_refused_before_sending(tmp_path):
    with Client("http://127.0.0.1:9", "key") as client, pytest.raises(FileNotFoundError):
        client.submit(str(tmp_path / "nope.npz"))


def test_the_client_package_installs_without_torch_or_the_service():
    """`pip install ./clients/python` pulls in httpx, httpx-sse and tqdm only, ships the
    schema, and plugs its commands into `enas` (test_client.py runs it with torch blocked)."""
    import tomllib

    from tests.conftest import ROOT

    project = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())
    names = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower()
             for d in project["project"]["dependencies"]}
    assert names == {"httpx", "httpx-sse", "tqdm"}
    extras = {d for ds in project["project"]["optional-dependencies"].values() for d in ds}
    assert not any(d.startswith(("torch", "enas-service")) for d in extras)
    assert "job_schema.json" in project["tool"]["setuptools"]["package-data"]["enas_client"]
    assert project["project"]["entry-points"]["enas.commands"]["remote"] == \
        "enas_client.cli:register"
