"""Submitting and managing jobs over HTTP (no worker: the jobs stay queued)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from enas_core.config import ConstraintConfig, RunConfig, from_dict, to_dict
from enas_core.costs import CostModel, Costs, smallest_architecture
from enas_core.options import OPTIONS
from enas_core.presets import preset_config
from enas_core.stage_rule import stage_of
from enas_service import artifacts
from enas_service.models import Dataset, Job
from tests.conftest import TINY_JOB


def _count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def test_submit_answers_202_with_location(client, alice):
    response = client.post("/jobs", json={"dataset": "digits", **TINY_JOB}, headers=alice)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert job["status"] == "queued"
    assert job["dataset"] == "digits"
    assert job["progress"] == 0 and job["epoch"] == 0 and job["phase"] is None
    assert job["request"] == {"dataset": "digits", **TINY_JOB}
    config = job["config"]
    assert config["search"]["epochs"] == 2
    assert config["search"]["model"] == {**config["search"]["model"], "layers": 3, "nodes": 2}
    assert config["search"]["controller"]["train_steps"] == 2
    assert config["train"]["model"]["channels"] == 8
    assert config["train"]["steps_per_epoch"] == 2
    assert client.get(f"/jobs/{job['id']}", headers=alice).json() == job


def test_defaults_and_presets(client, alice):
    plain = client.post("/jobs", json={"dataset": "mnist"}, headers=alice).json()
    engine = RunConfig()
    assert plain["config"] == to_dict(replace(engine, select=stage_of(engine)))
    quick = client.post(
        "/jobs", json={"dataset": "digits", "preset": "quick", "search_epochs": 3,
                       "time_limit": 60}, headers=alice
    ).json()
    expected = to_dict(preset_config("quick"))
    expected["search"]["epochs"] = 3
    expected["search"]["time_limit_s"] = 60
    expected["select"]["candidates"] = 0  # decided at submission: 5 final epochs, no stage
    assert quick["config"] == expected


def test_a_long_final_training_gets_the_selection_stage_unless_told_otherwise(client, alice):
    """Left unset, the stage runs where it costs at most a quarter of the final training (the
    demo's sizes: from 48 final epochs); the job's config says so at once."""
    def stage(**options):
        job = client.post("/jobs", json={"dataset": "digits", "preset": "demo", **options},
                          headers=alice)
        assert job.status_code == 202, job.text
        return job.json()["config"]["select"]["candidates"]

    assert (stage(final_epochs=47), stage(final_epochs=48)) == (0, 8)
    assert (stage(final_epochs=60, select_candidates=0),
            stage(final_epochs=2, select_candidates=4)) == (0, 4)


def test_macro_space(client, alice):
    job = client.post(
        "/jobs", json={"dataset": "digits", "space": "macro", "layers": 4}, headers=alice
    ).json()
    assert job["config"]["search"]["model"]["space"] == "macro"
    assert job["config"]["train"]["model"]["space"] == "macro"
    assert job["config"]["train"]["model"]["layers"] == 4


@pytest.mark.parametrize(
    "body,field,words",
    [
        ({"search_epochs": 0}, "search_epochs", "greater than or equal to 1"),
        ({"layers": 4}, "layers", "multiple of 3"),
        ({"final_layers": 5}, "final_layers", "multiple of 3"),
        ({"space": "nano"}, "space", "'micro' or 'macro'"),
        ({"preset": "huge"}, "preset", "'quick', 'demo', 'paper-cifar10' or 'seed-mnist'"),
        ({"learning_rate": 0.1}, "learning_rate", "Extra inputs"),
        ({"time_limit": -5}, "time_limit", "greater than 0"),
        ({"search_batch_size": "many"}, "search_batch_size", "valid integer"),
        ({"dataset": None}, "dataset", "valid string"),
        ({"dataset": "imagenet"}, "dataset", "unknown dataset 'imagenet'"),
        ({"dataset": "6a1f2a9e-0000-4000-8000-000000000000"}, "dataset", "unknown dataset"),
    ],
)
def test_invalid_config_is_422_naming_the_field(client, db_session, alice, body, field, words):
    response = client.post("/jobs", json={"dataset": "digits", **body}, headers=alice)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["detail"].startswith(f"{field}: ")
    assert words in problem["detail"]
    assert any(e["loc"][-1] == field for e in problem["errors"])
    assert _count(db_session, Job) == 0


# -- constraints --------------------------------------------------------------------------------


def test_constraint_fields_map_onto_the_engine_config(client, alice):
    body = {"dataset": "digits", **TINY_JOB, "max_params": 60_000, "max_flops": 1e7,
            "max_latency_ms": 4.5, "max_memory_mb": 12, "constraint_mode": "soft",
            "constraint_weight": -0.5, "latency_device": "cuda", "latency_batch_size": 8}
    response = client.post("/jobs", json=body, headers=alice)
    assert response.status_code == 202, response.text
    config = response.json()["config"]
    assert config["search"]["constraints"] == {
        **to_dict(ConstraintConfig()), "max_params": 60_000, "max_flops": 10_000_000,
        "max_latency_ms": 4.5, "max_memory_mb": 12.0, "mode": "soft", "weight": -0.5,
        "latency_device": "cuda", "latency_batch_size": 8,
    }
    assert from_dict(RunConfig, config).search.constraints.limits() == {
        "params": 60_000, "flops": 10_000_000, "latency_ms": 4.5, "memory_mb": 12.0}
    # Without limits, the engine's defaults: none set, hard, MnasNet's weight, the CPU.
    plain = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    assert plain["config"]["search"]["constraints"] == to_dict(ConstraintConfig())
    assert plain["constraints"] is None


@pytest.mark.parametrize(
    "body,field,words",
    [
        ({"max_params": 0}, "max_params", "greater than 0"),
        ({"max_params": -5}, "max_params", "greater than 0"),
        ({"max_params": 1.5}, "max_params", "valid integer"),
        ({"max_params": True}, "max_params", "not a boolean"),
        ({"max_params": "many"}, "max_params", "valid integer"),
        ({"max_flops": 0}, "max_flops", "greater than 0"),
        ({"max_latency_ms": 0}, "max_latency_ms", "greater than 0"),
        ({"max_latency_ms": -1.5}, "max_latency_ms", "greater than 0"),
        ({"max_latency_ms": "fast"}, "max_latency_ms", "valid number"),
        ({"max_memory_mb": 0}, "max_memory_mb", "greater than 0"),
        ({"max_memory_mb": False}, "max_memory_mb", "not a boolean"),
        ({"constraint_mode": "strict"}, "constraint_mode", "'hard' or 'soft'"),
        ({"constraint_weight": 0.07}, "constraint_weight", "less than 0"),
        ({"constraint_weight": 0}, "constraint_weight", "less than 0"),
        ({"latency_device": "tpu"}, "latency_device", "'cpu' or 'cuda'"),
        ({"latency_device": "cuda:0"}, "latency_device", "'cpu' or 'cuda'"),
        ({"latency_batch_size": 0}, "latency_batch_size", "greater than or equal to 1"),
        ({"latency_batch_size": 2.5}, "latency_batch_size", "valid integer"),
    ],
)
def test_invalid_constraints_are_422_naming_the_field(client, db_session, alice, body, field,
                                                      words):
    response = client.post("/jobs", json={"dataset": "digits", **body}, headers=alice)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail"].startswith(f"{field}: ") and words in problem["detail"]
    assert [e["loc"][-1] for e in problem["errors"]] == [field]
    assert _count(db_session, Job) == 0


def _over(option):
    """A value just past the option's maximum."""
    return option.maximum if option.exclusive_maximum else (
        option.maximum + 1 if option.type is int else option.maximum * 1.5)


@pytest.mark.parametrize("name", [n for n, o in OPTIONS.items() if o.maximum is not None])
def test_every_number_has_an_upper_bound_and_a_422_names_it(client, db_session, alice, name):
    option = OPTIONS[name]
    response = client.post("/jobs", json={"dataset": "digits", name: _over(option)},
                           headers=alice)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail"].startswith(f"{name}: ") and "less than" in problem["detail"]
    assert [e["loc"][-1] for e in problem["errors"]] == [name]
    # A boolean is not a number.
    if option.type in (int, float):
        response = client.post("/jobs", json={"dataset": "digits", name: True}, headers=alice)
        assert response.status_code == 422 and "not a boolean" in response.json()["detail"]
    assert _count(db_session, Job) == 0


def test_the_api_takes_the_job_options_by_their_cli_names():
    from api.schemas import JobCreate

    assert list(JobCreate.model_fields) == ["dataset", "name", "preset", "mlflow_experiment",
                                            "mlflow_model_name", *OPTIONS]
    schema = JobCreate.model_json_schema()["properties"]
    assert schema["search_batch_size"]["anyOf"][0]["maximum"] == 4096
    assert schema["space"]["anyOf"][0]["enum"] == ["micro", "macro"]


def test_an_option_the_engine_refuses_is_named_exactly(client, alice):
    """The engine's check (micro layers are a multiple of 3) is on the final network's config
    here: the 422 names final_layers, not layers, though both set a `layers`."""
    body = {"dataset": "digits", "layers": 6, "final_layers": 4}
    problem = client.post("/jobs", json=body, headers=alice).json()
    assert problem["errors"][0]["loc"] == ["body", "final_layers"]
    assert problem["detail"] == "final_layers: micro layers must be a positive multiple of 3, got 4"


def test_a_non_finite_limit_is_422(client, db_session, alice):
    response = client.post(
        "/jobs", content=b'{"dataset": "digits", "max_latency_ms": Infinity}',
        headers={**alice, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "max_latency_ms: Input should be a finite number"
    assert _count(db_session, Job) == 0


def _cheapest(body: dict, shape: tuple[int, int, int]) -> Costs:
    """The engine's price of the cheapest final network of a request's config."""
    from api.schemas import JobCreate
    from api.services.submission import build_run_config

    final = build_run_config(JobCreate(**body)).train.model
    return CostModel(final, shape, 10)(smallest_architecture("micro", final.nodes))


@pytest.mark.parametrize(
    "dataset,limit,shape",
    [
        ("digits", "max_params", (1, 28, 28)),
        ("cifar10", "max_params", (3, 32, 32)),
        ("mnist", "max_flops", (1, 28, 28)),
        ("upload", "max_flops", (1, 8, 8)),  # from the stored summary of the upload
    ],
)
def test_an_impossible_limit_is_422_at_submission(client, db_session, alice, digits_npz,
                                                  dataset, limit, shape):
    if dataset == "upload":
        with digits_npz.open("rb") as f:
            dataset = client.post("/datasets", files={"file": ("d.npz", f)},
                                  headers=alice).json()["id"]
    body = {"dataset": dataset, **TINY_JOB}
    cheapest = getattr(_cheapest(body, shape), limit.removeprefix("max_"))
    response = client.post("/jobs", json={**body, limit: cheapest - 1}, headers=alice)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail"] == (
        f"{limit}: {limit}={cheapest - 1:,} cannot be met: the cheapest micro network of this "
        f"config (3 layers, 8 channels, 2 nodes, input {shape}, 10 classes) has {cheapest:,} "
        f"{'parameters' if limit == 'max_params' else 'multiply-adds'}; raise the limit or make "
        "the final network smaller"
    )
    assert problem["errors"][0]["loc"] == ["body", limit]
    assert _count(db_session, Job) == 0
    # The cheapest network itself is within the limit; a soft limit is never impossible.
    for extra in ({limit: cheapest}, {limit: 1, "constraint_mode": "soft"}):
        assert client.post("/jobs", json={**body, **extra}, headers=alice).status_code == 202


def test_pareto_before_the_search_ended(client, alice, bob):
    job = client.post("/jobs", json={"dataset": "digits", "max_params": 10**6},
                      headers=alice).json()
    response = client.get(f"/jobs/{job['id']}/pareto", headers=alice)
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "no Pareto front yet: the job is queued; the front comes when the search ends")
    assert client.get(f"/jobs/{job['id']}/pareto", headers=bob).status_code == 404
    missing = "6a1f2a9e-0000-4000-8000-000000000000"
    assert client.get(f"/jobs/{missing}/pareto", headers=alice).status_code == 404
    client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert "the job cancelled before its search ended" in client.get(
        f"/jobs/{job['id']}/pareto", headers=alice).json()["detail"]


def test_the_search_report_before_the_search_ended_says_the_same(client, alice):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    url = f"/jobs/{job['id']}/search-report"
    details = [client.get(url, headers=alice).json()["detail"]]
    client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    details.append(client.get(url, headers=alice).json()["detail"])
    assert details == [
        "no search report yet: the job is queued; the report comes when the search ends",
        "no search report yet: the job cancelled before its search ended"]


def test_stored_costs_front_and_report_are_served(client, db_session, alice):
    """What the worker stores (see worker/runner.py) comes back through the API: the best
    architecture's costs while the search runs; then the top-k with costs, the trained
    network's limits report and the front."""
    from enas_service import repository
    from enas_service.models import JobStatus

    arch = {"space": "micro", "nodes": 1, "conv": [0, 3, 1, 4], "reduce": [1, 2, 0, 0],
            "conv_text": "0 3 1 4", "reduce_text": "1 2 0 0",
            "conv_ops": [[0, "max_pool_3x3", 1, "identity"]],
            "reduce_ops": [[1, "avg_pool_3x3", 0, "sep_conv_3x3"]]}
    costs = {"params": 900, "flops": 12000, "latency_ms": 0.3, "memory_mb": 0.1}
    job_id = client.post("/jobs", json={"dataset": "digits", "max_params": 10**6},
                         headers=alice).json()["id"]
    job = db_session.get(Job, job_id)
    job.status, job.best_arch, job.best_val_acc, job.best_costs = (
        JobStatus.running, arch, 0.5, costs)
    db_session.commit()
    searching = client.get(f"/jobs/{job_id}/architecture", headers=alice).json()
    assert searching["source"] == "search" and searching["costs"] == costs

    report = {"limits": {"max_params": 10**6}, "modes": {"params": "hard"}, "weight": -0.07,
              "soft_penalty": "always", "latency_device": "cpu", "latency_batch_size": 1,
              "satisfied": True, "message": None}
    point = {"arch": arch, "val_acc": 0.5, **costs, "feasible": True, "score": 0.5}
    job.status, job.constraints = JobStatus.succeeded, report
    job.pareto = {"objectives": {"val_acc": "max", "params": "min", "latency_ms": "min"},
                  "latency_device": "cpu", "latency_batch_size": 1, "evaluated": 4,
                  "front": [point]}
    job.result = {"test_acc": 0.6, "params": 900, "flops": 12000, "memory_mb": 0.1,
                  "constraints": [{"name": "params", "limit": 10**6, "value": 900, "met": True,
                                   "mode": "hard", "unit": "parameters"}],
                  "constraints_met": True}
    repository.replace_architectures(
        db_session, job_id=job.id,
        items=[{"arch": arch, "val_acc": 0.5, "costs": costs, "feasible": True, "score": 0.5}])
    db_session.commit()
    best = client.get(f"/jobs/{job_id}/architecture", headers=alice).json()
    assert best["source"] == "final" and best["costs"] == costs
    assert best["feasible"] is True and best["score"] == 0.5
    assert best["final"]["constraints"] == [{
        "name": "params", "limit": 10**6, "measured": 900, "met": True, "mode": "hard",
        "unit": "parameters", "device": None, "batch_size": None}]
    assert best["final"]["constraints_met"] is True
    assert client.get(f"/jobs/{job_id}", headers=alice).json()["constraints"] == report
    pareto = client.get(f"/jobs/{job_id}/pareto", headers=alice).json()
    labelled = {**point, "arch": {**arch, "label": "conv: 0 3 1 4 | reduce: 1 2 0 0"}}
    assert pareto == {**job.pareto, "front": [labelled], "count": 1, "constraints": report}


@pytest.mark.parametrize(("space", "texts", "label"), [
    ("micro", ("0 3 1 4", "1 2 0 0"), "conv: 0 3 1 4 | reduce: 1 2 0 0"),
    ("macro", ("3 3 0 2 1 1 2 1 1 0",), "3 3 0 2 1 1 2 1 1 0"),
])
def test_every_architecture_has_the_label_its_space_gives(client, db_session, alice, space,
                                                          texts, label):
    """Clients show `arch.label` rather than branch on the space's fields (the dashboard
    did, in three places); an architecture this release cannot read is served as stored."""
    from enas_core.spaces import get_space
    from enas_service import repository
    from enas_service.models import JobStatus

    arch = get_space(space).parse(*texts).to_json()
    assert "label" not in arch  # stored without it: the API adds it
    job_id = client.post("/jobs", json={"dataset": "digits", "space": space},
                         headers=alice).json()["id"]
    job = db_session.get(Job, job_id)
    job.status = JobStatus.succeeded
    job.pareto = {"objectives": {"val_acc": "max", "params": "min"}, "latency_device": "cpu",
                  "latency_batch_size": 1, "evaluated": 1,
                  "front": [{"arch": arch, "val_acc": 0.5, "params": 9}]}
    unreadable = {"space": "gone", "text": "1 2"}
    repository.replace_architectures(db_session, job_id=job.id, items=[
        {"arch": arch, "val_acc": 0.5}, {"arch": unreadable, "val_acc": 0.1}])
    db_session.commit()
    listed = client.get(f"/jobs/{job_id}/architectures", headers=alice).json()["data"]
    assert [a["arch"] for a in listed] == [{**arch, "label": label}, unreadable]
    best = client.get(f"/jobs/{job_id}/architecture", headers=alice).json()
    assert best["arch"]["label"] == label
    front = client.get(f"/jobs/{job_id}/pareto", headers=alice).json()["front"]
    assert front[0]["arch"]["label"] == label


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]"])
def test_body_must_be_a_json_object(client, db_session, alice, raw):
    response = client.post(
        "/jobs", content=raw, headers={**alice, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert _count(db_session, Job) == 0


def test_missing_dataset(client, alice):
    response = client.post("/jobs", json={"search_epochs": 2}, headers=alice)
    assert response.status_code == 422
    assert response.json()["detail"] == "dataset: Field required"


def test_idempotency_key(client, db_session, alice, bob):
    headers = {**alice, "Idempotency-Key": "retry-me"}
    first = client.post("/jobs", json={"dataset": "digits"}, headers=headers)
    second = client.post("/jobs", json={"dataset": "digits"}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(db_session, Job) == 1
    conflict = client.post("/jobs", json={"dataset": "mnist"}, headers=headers)
    assert conflict.status_code == 409
    assert "Idempotency-Key" in conflict.json()["detail"]
    # Keys are per owner.
    other = client.post("/jobs", json={"dataset": "digits"},
                        headers={**bob, "Idempotency-Key": "retry-me"})
    assert other.json()["id"] != first.json()["id"]


def test_list_filter_and_paginate(client, alice):
    ids = [
        client.post("/jobs", json={"dataset": "digits", "name": f"j{i}"}, headers=alice)
        .json()["id"]
        for i in range(3)
    ]
    client.post(f"/jobs/{ids[0]}/cancel", headers=alice)
    listing = client.get("/jobs", headers=alice).json()
    assert listing["count"] == 3
    assert [j["id"] for j in listing["data"]] == ids[::-1]  # newest first
    page = client.get("/jobs?limit=1&offset=1", headers=alice).json()
    assert page["count"] == 3 and [j["id"] for j in page["data"]] == [ids[1]]
    queued = client.get("/jobs?status=queued", headers=alice).json()
    assert queued["count"] == 2 and {j["id"] for j in queued["data"]} == set(ids[1:])
    cancelled = client.get("/jobs?status=cancelled", headers=alice).json()
    assert [j["id"] for j in cancelled["data"]] == [ids[0]]
    assert client.get("/jobs?status=bogus", headers=alice).status_code == 422
    assert client.get("/jobs?limit=0", headers=alice).status_code == 422


def test_cancel_and_delete_a_queued_job(client, alice):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    cancelled = client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    again = client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]
    assert client.delete(f"/jobs/{job['id']}", headers=alice).status_code == 204
    assert client.get(f"/jobs/{job['id']}", headers=alice).status_code == 404


def test_results_before_the_job_ran(client, alice):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    assert client.get(f"/jobs/{job['id']}/history", headers=alice).json() == {
        "data": [], "count": 0
    }
    assert client.get(f"/jobs/{job['id']}/architectures", headers=alice).json() == {
        "data": [], "count": 0
    }
    architecture = client.get(f"/jobs/{job['id']}/architecture", headers=alice)
    assert architecture.status_code == 409
    assert "no architecture yet" in architecture.json()["detail"]
    model = client.get(f"/jobs/{job['id']}/model", headers=alice)
    assert model.status_code == 409
    assert "it is queued" in model.json()["detail"]
    assert client.get(f"/jobs/{job['id']}/model?format=h5", headers=alice).status_code == 422


def test_unknown_job_is_404(client, alice):
    missing = "6a1f2a9e-0000-4000-8000-000000000000"
    response = client.get(f"/jobs/{missing}", headers=alice)
    assert response.status_code == 404
    assert response.json() == {
        "type": "about:blank", "title": "Not found", "status": 404,
        "detail": f"no job {missing}", "instance": f"/jobs/{missing}",
    }


def test_submit_with_the_file_in_one_request(client, db_session, alice, digits_npz):
    config = json.dumps({"search_epochs": 2, "layers": 3})
    with digits_npz.open("rb") as f:
        response = client.post(
            "/jobs", files={"file": ("digits.npz", f)}, data={"config": config}, headers=alice
        )
    assert response.status_code == 202, response.text
    job = response.json()
    dataset = client.get(f"/datasets/{job['dataset']}", headers=alice).json()
    assert dataset["num_samples"] == 400
    assert job["dataset_id"] == dataset["id"]
    assert job["config"]["search"]["epochs"] == 2


@pytest.mark.parametrize(
    "filename,payload,config,status,words",
    [
        ("d.npz", None, '{"search_epochs": 0}', 422, "search_epochs"),
        ("d.npz", None, '{"layers": 5}', 422, "multiple of 3"),
        ("d.npz", None, "{oops", 422, "config: not valid JSON"),
        ("d.npz", None, '{"dataset": "digits"}', 422, "without 'dataset'"),
        ("d.npz", None, '{"max_params": 10}', 422, "max_params=10 cannot be met"),
        ("d.npz", b"PK\x03\x04garbage", "{}", 422, "d.npz"),
        ("d.txt", b"hello", "{}", 415, "unsupported file type"),
    ],
)
def test_bad_one_request_submissions_leave_nothing(
    client, db_session, alice, digits_npz, filename, payload, config, status, words
):
    payload = digits_npz.read_bytes() if payload is None else payload
    response = client.post(
        "/jobs", files={"file": (filename, payload)}, data={"config": config}, headers=alice
    )
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert _count(db_session, Job) == 0 and _count(db_session, Dataset) == 0
    assert not artifacts.datasets_dir().exists() or not any(artifacts.datasets_dir().iterdir())
    assert not any(artifacts.tmp_dir().iterdir())


def test_openapi_documents_every_route_with_examples(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/jobs", "/jobs/{job_id}", "/jobs/{job_id}/history", "/jobs/{job_id}/events",
                 "/jobs/{job_id}/architecture", "/jobs/{job_id}/architectures",
                 "/jobs/{job_id}/model", "/jobs/{job_id}/cancel", "/jobs/{job_id}/pareto",
                 "/datasets",
                 "/datasets/{dataset_id}", "/healthz", "/readyz"):
        assert path in paths, path
    body = paths["/jobs"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert body["application/json"]["examples"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_broker_down_answers_503(client, alice, monkeypatch):
    from enas_service.queue import get_celery
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    get_celery.cache_clear()
    try:
        response = client.post("/jobs", json={"dataset": "digits"}, headers=alice)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        get_celery.cache_clear()
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]


def test_a_job_whose_network_is_at_chance_says_so(client, db_session, alice, capsys):
    """The worker stores the trained network's report (with its warnings) as the job's
    result: the job's `warnings` carry them, on the job and in the list, and the client's
    `enas jobs show` and `enas jobs list` print them."""
    from enas_client.cli import _show
    from enas_client.jobs import Job as ClientJob
    from enas_service.models import JobStatus

    warning = {"code": "val_acc_at_chance", "message": "the trained network scores 0.111 ..."}
    job_id = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()["id"]
    job = db_session.get(Job, job_id)
    job.status = JobStatus.succeeded
    job.result = {"test_acc": 0.11, "val_acc": 0.111, "train_acc": 0.99, "warnings": [warning]}
    job.baseline = {"arch": {"space": "micro"}, "val_acc": 0.5,
                    "final": {"test_acc": 0.9, "warnings": []}}
    db_session.commit()
    got = client.get(f"/jobs/{job_id}", headers=alice).json()
    assert got["warnings"] == [warning] and got["final"]["warnings"] == [warning]
    listed = client.get("/jobs", headers=alice).json()["data"]
    assert [j["warnings"] for j in listed if j["id"] == job_id] == [[warning]]

    capsys.readouterr()
    _show(ClientJob(None, got))  # type: ignore[arg-type]
    assert "WARNING   the trained network scores 0.111" in capsys.readouterr().out

    job.result = {"test_acc": 0.95, "warnings": []}
    db_session.commit()
    assert client.get(f"/jobs/{job_id}", headers=alice).json()["warnings"] == []


def test_jobs_name_their_dataset_and_a_page_reads_the_datasets_with_its_jobs(
    client, db_session, alice, digits_npz
):
    """`dataset_name`: the built-in's name or the upload's. A page of jobs reads their
    datasets in its one query (a join), not in one more query a job."""
    from sqlalchemy import event

    for name in ("first", "second", "third"):
        dataset = client.post("/datasets", files={"file": ("digits.npz", digits_npz.read_bytes())},
                              data={"name": name}, headers=alice).json()
        client.post("/jobs", json={"dataset": dataset["id"]}, headers=alice)
    client.post("/jobs", json={"dataset": "digits"}, headers=alice)
    engine = db_session.get_bind().engine

    def statements(path: str) -> tuple[dict, int]:
        seen: list[str] = []
        db_session.expunge_all()  # nothing read before stands in for a query

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            body = client.get(path, headers=alice).json()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return body, len(seen)

    _, for_one = statements("/jobs?limit=1&offset=1")
    page, for_four = statements("/jobs")
    assert [j["dataset_name"] for j in page["data"]] == ["digits", "third", "second", "first"]
    assert for_four == for_one
    one, _ = statements(f"/jobs/{page['data'][1]['id']}")
    assert one["dataset_name"] == "third" and one["dataset"] == one["dataset_id"]
