"""The dashboard and the API docs in a real browser, against the embedded service and one
tiny job (2 search epochs, 1 final epoch, cells of 2 nodes, top 3)."""

from __future__ import annotations

import re

import httpx
import pytest

from enas_core.spaces.micro.architecture import MicroArchitecture
from tests.browser.conftest import ARTIFACTS, Service, finished_copy, sign_in
from tests.conftest import TINY_JOB

pytestmark = pytest.mark.slow

JOB_TIMEOUT_MS = 240_000  # a generous bound for the tiny job on a loaded 2-core machine


def _counts(arch_json: dict) -> tuple[int, int]:
    """(nodes, edges) of the micro diagram: per cell 2 inputs, the nodes and the output; two
    op edges per node and one from each node no other node reads."""
    arch = MicroArchitecture.from_json(arch_json)
    nodes = 2 * (2 + arch.nodes + 1)
    edges = sum(2 * len(c.nodes) + len(c.loose_ends()) for c in (arch.conv, arch.reduce))
    return nodes, edges


def _chart_points(page, chart: str, series: str) -> int:
    return page.locator(
        f'figure[data-chart="{chart}"] g[data-series="{series}"] circle.pt').count()


def test_job_page_follows_the_job_live(page, service: Service):
    """Opened while the job is queued or running, the page draws each epoch as it comes and
    ends with the results, without a reload."""
    sign_in(page, service, f"#/jobs/{service.job_id}")
    page.wait_for_selector(".job-head .status-line .badge.succeeded", timeout=JOB_TIMEOUT_MS)
    epochs = TINY_JOB["search_epochs"]
    page.wait_for_function(
        "n => document.querySelectorAll('figure[data-chart=\"final-acc\"] circle.pt').length"
        " >= n", arg=2 * TINY_JOB["final_epochs"], timeout=30_000)
    assert _chart_points(page, "val-acc", "best so far") == epochs
    assert _chart_points(page, "reward", "mean reward") == epochs
    assert _chart_points(page, "reward", "baseline") == epochs
    assert _chart_points(page, "entropy", "entropy") == epochs
    assert _chart_points(page, "shared-loss", "train loss") == epochs
    assert _chart_points(page, "lr", "lr") == epochs
    assert _chart_points(page, "final-acc", "val acc") == TINY_JOB["final_epochs"]
    history = service.get(f"/jobs/{service.job_id}/history")["data"]
    best = [r for r in history if r["phase"] == "search"][-1]["best"]["val_acc"]
    tip = page.locator('figure[data-chart="val-acc"] g[data-series="best so far"] circle.pt '
                       "title").last.text_content()
    assert tip == f"best so far, epoch {epochs}: {float(f'{best:.4g}')}"

    # The best architecture's diagram, with every node and edge of the architecture.
    best_arch = service.get(f"/jobs/{service.job_id}/architecture")["arch"]
    page.wait_for_selector("#best-arch svg g.node", timeout=30_000)
    nodes, edges = _counts(best_arch)
    assert page.locator("#best-arch svg g.node").count() == nodes
    assert page.locator("#best-arch svg g.edge").count() == edges
    assert page.locator("#best-arch .mono").text_content() == best_arch["label"] == (
        f"conv: {best_arch['conv_text']} | reduce: {best_arch['reduce_text']}")

    # The top-k, a candidate's diagram on demand, the front, limits, config.
    ranked = service.get(f"/jobs/{service.job_id}/architectures")["data"]
    rows = page.locator("table.top tbody tr[data-rank]")
    assert rows.count() == len(ranked) >= 2
    rows.nth(1).get_by_role("button", name="Diagram").click()
    second = page.locator("table.top tr.detail").nth(1).locator("svg")
    second.locator("g.node").first.wait_for()
    assert (second.locator("g.node").count(), second.locator("g.edge").count()) == _counts(
        ranked[1]["arch"])
    front = service.get(f"/jobs/{service.job_id}/pareto")["front"]
    assert page.locator('figure[data-chart="pareto"] .pt.front').count() == len(front)
    resolved = page.locator("#config details").nth(1)
    resolved.locator("summary").click()
    assert '"epochs": 2' in resolved.locator("pre").text_content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "job.png"), full_page=True)


def test_jobs_list_shows_the_job(page, service: Service):
    # The link `enas serve` prints signs in by itself and drops the key from the address.
    page.goto(f"{service.url}/#/jobs?key={service.key}")
    page.wait_for_url(f"{service.url}/#/jobs")
    assert service.key not in page.url
    job = service.get(f"/jobs/{service.job_id}")
    row = page.locator(f'tr[data-job="{service.job_id}"]')
    row.wait_for()
    assert row.locator("td").nth(0).text_content() == "browser test"
    # The upload's name (its file's, as it was not named), not its id.
    dataset = service.get(f"/datasets/{service.dataset_id}")
    assert row.locator("td").nth(3).text_content() == job["dataset_name"] == dataset["name"] \
        == "digits.npz"
    assert row.locator(".badge").text_content() == job["status"] == "succeeded"
    assert row.locator("progress").get_attribute("value") == "100"
    assert row.locator("td").nth(4).text_content() == f"{job['best_val_acc'] * 100:.1f}%"
    assert row.locator("td").nth(5).text_content() == f"{job['final']['test_acc'] * 100:.1f}%"
    page.select_option("#status-filter", "failed")
    page.wait_for_url(re.compile(r"status=failed"))
    page.get_by_text("No jobs yet").wait_for()
    page.select_option("#status-filter", "")
    row.wait_for()
    page.screenshot(path=str(ARTIFACTS / "jobs.png"))
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: still there, no overflow
    assert row.locator(".badge").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_bad_config_shows_the_api_message_next_to_the_field(page, service: Service):
    expected = httpx.post(f"{service.url}/jobs", headers=service.headers, timeout=30, json={
        "dataset": "digits", "search_epochs": 0, "max_params": -5}).json()
    messages = {e["loc"][-1]: e["msg"] for e in expected["errors"]}
    sign_in(page, service, "#/jobs/new")
    page.wait_for_selector("#f-search_epochs")
    page.fill("#f-search_epochs", "0")
    page.fill("#f-max_params", "-5")
    page.click("#submit-form button[type=submit]")
    error = page.locator("#f-search_epochs-error")
    error.wait_for()
    assert error.text_content() == messages["search_epochs"]
    assert page.locator("#f-max_params-error").text_content() == messages["max_params"]
    assert page.locator("#f-search_epochs").get_attribute("aria-invalid") == "true"
    assert page.locator("#form-error").text_content() == expected["detail"]
    assert service.get("/jobs")["count"] == 1  # nothing was submitted
    page.screenshot(path=str(ARTIFACTS / "submit-error.png"))


def test_the_forms_offer_what_the_server_lists(page, service: Service):
    """Presets, built-in datasets and upload formats come from the server (the job schema's
    enum, GET /datasets/builtin and /datasets/formats), not from lists kept in the page."""
    formats = service.get("/datasets/formats")["data"]
    uploadable = [f["description"] for f in formats if f["suffixes"]]
    help_text = ", ".join(uploadable[:-1]) + f", or {uploadable[-1]}"
    values = "els => els.map((e) => e.value)"
    sign_in(page, service, "#/jobs/new")
    page.wait_for_selector("#f-preset")
    assert page.locator("#f-preset option").evaluate_all(values) == [
        "", "quick", "demo", "paper-cifar10", "seed-mnist"]
    assert page.locator('#f-dataset optgroup[label="Built-in"] option').evaluate_all(values) == [
        d["name"] for d in service.get("/datasets/builtin")["data"]]
    assert page.locator("#f-file").get_attribute("accept") == ".npz,.csv,.csv.gz,.gz,.zip"
    assert page.locator("#f-file-help").text_content() == help_text
    page.goto(f"{service.url}/#/datasets")
    page.wait_for_function("() => document.querySelector('#ds-file').accept !== ''")
    assert page.locator("#ds-file").get_attribute("accept") == ".npz,.csv,.csv.gz,.gz,.zip"
    assert page.locator("#ds-file-help").text_content() == help_text


def test_datasets_page_shows_the_sample_grid(page, service: Service):
    sign_in(page, service, "#/datasets")
    image = page.locator(".samples img")
    image.wait_for()
    page.wait_for_function("() => document.querySelector('.samples img').naturalWidth > 0")
    assert page.evaluate("document.querySelector('.samples img').naturalHeight") == 10 * 42
    counts = service.get(f"/datasets/{service.dataset_id}")["class_counts"]
    cells = page.locator("table.counts td.num").all_text_contents()
    assert cells == [str(n) for n in counts.values()]


def test_swagger_ui_renders_offline_and_tries_a_request(page, service: Service):
    spec = service.get("/openapi.json")
    operations = sum(len(item) for item in spec["paths"].values())
    page.goto(f"{service.url}/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() == operations
    page.click("button.authorize")
    page.fill(".auth-container input", service.key)
    page.click(".auth-btn-wrapper button.authorize")
    page.click(".btn-done")
    listing = page.locator("#operations-jobs-list_jobs_jobs_get")
    listing.locator(".opblock-summary").click()
    listing.get_by_role("button", name="Try it out").click()
    listing.get_by_role("button", name="Execute").click()
    status = listing.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.text_content().strip() == "200"
    assert service.job_id in listing.locator(".live-responses-table .microlight").first \
        .text_content()
    page.screenshot(path=str(ARTIFACTS / "docs.png"))


def test_redoc_renders_offline(page, service: Service):
    page.goto(f"{service.url}/redoc")
    page.locator("h2", has_text="Submit a search job").wait_for()
    spec = service.get("/openapi.json")
    operations = sum(len(item) for item in spec["paths"].values())
    assert page.locator("[data-section-id^='tag/'][data-section-id*='/operation/']").count() \
        == operations


# Cells of 5 nodes that the dashboard once drew side by side, 1,898 px wide and never below
# 3/4 of that (the job page's card scrolled), six pairs of op labels on top of each other in
# the reduction cell.
WIDE = MicroArchitecture.parse("1 3 1 0 2 4 2 3 1 2 3 4 4 0 0 0 4 0 4 4",
                               "1 4 1 2 2 2 0 1 1 0 3 2 3 1 0 3 1 1 4 1").to_json()


@pytest.fixture(scope="module")
def reranked(service: Service) -> str:
    """A finished job whose top-k put WIDE first, ahead of the search's last best (the tiny
    job's), as re-ranking the candidates on more validation data can."""
    service.wait_done()
    ranked = service.get(f"/jobs/{service.job_id}/architectures")["data"]
    return finished_copy(service, name="reranked", architectures=[
        {"arch": WIDE, "val_acc": 0.93},
        *({"arch": a["arch"], "val_acc": a["val_acc"], "costs": a["costs"]} for a in ranked)])


def test_best_architecture_card_shows_the_apis_rank_1_only(page, service: Service,
                                                             reranked: str):
    """The card's text, its picture and the picture's title, GET /architecture and the
    top-k's first row: one architecture, not the search's last epoch's best."""
    history = service.get(f"/jobs/{reranked}/history")["data"]
    last_best = [r for r in history if r["phase"] == "search"][-1]["best"]["arch"]
    best = service.get(f"/jobs/{reranked}/architecture")
    text = f"conv: {WIDE['conv_text']} | reduce: {WIDE['reduce_text']}"
    assert best["rank"] == 1 and best["arch"] == {**WIDE, "label": text} != last_best
    sign_in(page, service, f"#/jobs/{reranked}")
    page.wait_for_selector("table.top tbody tr[data-rank]")
    page.locator("#best-arch .mono", has_text=text).wait_for(timeout=30_000)
    assert page.locator("#best-arch .mono").text_content() == text
    assert page.locator("#best-arch svg > title").text_content() == \
        "reranked: rank 1, val_acc 0.9300"
    nodes, edges = _counts(WIDE)
    assert page.locator("#best-arch svg g.node").count() == nodes
    assert page.locator("#best-arch svg g.edge").count() == edges
    first = page.locator('table.top tr[data-rank="1"] td.mono')
    assert first.text_content() == text


def _overlapping(page, svg: str) -> list[str]:
    """Pairs of op labels, or a label and a node, drawn on top of each other in the page."""
    return page.evaluate("""svg => {
      const box = (e) => e.getBoundingClientRect();
      const name = (e) => `${e.closest("g.cell").dataset.cell}: ${e.textContent}`;
      const labels = [...svg.querySelectorAll("g.edge text")].map((t) => [name(t), box(t)]);
      const nodes = [...svg.querySelectorAll("g.node")].map((n) => [n.dataset.node, box(n)]);
      const over = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5
        && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
      const found = [];
      labels.forEach(([label, r], i) => {
        for (const [other, q] of labels.slice(i + 1)) {
          if (over(r, q)) found.push(`${label} / ${other}`);
        }
        for (const [node, q] of nodes) if (over(r, q)) found.push(`${label} / node ${node}`);
      });
      return found;
    }""", page.locator(svg).element_handle())


def test_both_cell_diagrams_fit_their_card_and_no_labels_overlap(page, service: Service,
                                                                 reranked: str):
    sign_in(page, service, f"#/jobs/{reranked}")
    svg = "#best-arch svg"
    page.wait_for_selector(f"{svg} g.node")
    box = page.locator("#best-arch")
    assert box.evaluate("e => e.scrollWidth <= e.clientWidth"), "the diagram scrolls"
    card = page.locator("#architecture").bounding_box()
    for cell in ("Normal cell", "Reduction cell"):
        drawn = page.locator(f'{svg} g.cell[data-cell="{cell}"]').bounding_box()
        assert card["x"] <= drawn["x"] and drawn["x"] + drawn["width"] <= card["x"] + card[
            "width"], cell
    assert _overlapping(page, svg) == []
    page.set_viewport_size({"width": 800, "height": 900})  # narrower: it shrinks, no scrollbar
    assert box.evaluate("e => e.scrollWidth <= e.clientWidth"), "the diagram scrolls"
    page.set_viewport_size({"width": 1280, "height": 900})
    # Rank 1's picture in the top-k table fits its row too.
    page.locator('table.top tr[data-rank="1"]').get_by_role("button", name="Diagram").click()
    detail = page.locator("table.top tr.detail").first
    detail.locator("svg g.node").first.wait_for()
    assert detail.locator("td").evaluate("e => e.scrollWidth <= e.clientWidth")
    assert page.locator("#top .table-wrap").evaluate("e => e.scrollWidth <= e.clientWidth")
    assert _overlapping(page, "table.top tr.detail svg") == []
    page.locator("#architecture").screenshot(path=str(ARTIFACTS / "best-architecture.png"))


def test_new_job_form_tells_two_uploads_of_one_file_apart(page, service: Service, digits_npz):
    again = httpx.post(f"{service.url}/datasets", headers=service.headers, timeout=60, files={
        "file": ("digits.npz", digits_npz.read_bytes())}).json()
    try:
        sign_in(page, service, "#/jobs/new")
        page.wait_for_selector("#f-dataset")
        labels = {}
        for dataset_id in (service.dataset_id, again["id"]):
            option = page.locator(f'#f-dataset option[value="{dataset_id}"]')
            labels[dataset_id] = option.text_content()
            assert labels[dataset_id].startswith("digits.npz · ")
            assert dataset_id[:8] in labels[dataset_id]
        assert len(set(labels.values())) == 2, labels
    finally:
        httpx.delete(f"{service.url}/datasets/{again['id']}", headers=service.headers,
                     timeout=30).raise_for_status()


def test_a_job_with_a_warning_says_so_on_its_page_and_in_the_list(page, service: Service):
    message = ("the trained network scores 0.111 on validation data, chance for 9 classes, "
               "while it fits its training data (train_acc 0.98)")
    final = service.wait_done()["final"]
    job_id = finished_copy(service, name="at chance", result={
        **final, "warnings": [{"code": "val_acc_at_chance", "message": message}]})
    fine = finished_copy(service, name="fine", result={**final, "warnings": []})
    try:
        assert [w["message"] for w in service.get(f"/jobs/{job_id}")["warnings"]] == [message]
        sign_in(page, service, f"#/jobs/{job_id}")
        banner = page.locator("#job-warnings")
        banner.wait_for()
        assert banner.is_visible() and message in banner.text_content()
        assert banner.locator("li").get_attribute("data-code") == "val_acc_at_chance"
        page.screenshot(path=str(ARTIFACTS / "job-warning.png"))
        page.goto(f"{service.url}/#/jobs")
        row = page.locator(f'tr[data-job="{job_id}"]')
        row.wait_for()
        assert row.locator(".badge").text_content() == "succeeded"
        assert row.locator(".warn-mark").is_visible()
        assert row.locator("td").nth(1).text_content() == "succeeded ⚠"
        assert message in row.locator(".warn-mark").get_attribute("title")
        # Every job as its `warnings` say: one without carries no mark, and no banner.
        for job in service.get("/jobs")["data"]:
            marks = page.locator(f'tr[data-job="{job["id"]}"] .warn-mark')
            assert marks.count() == (1 if job["warnings"] else 0), job["name"]
        assert page.locator(f'tr[data-job="{fine}"] td').nth(1).text_content() == "succeeded"
        page.goto(f"{service.url}/#/jobs/{fine}")
        page.wait_for_selector(".job-head .status-line .badge.succeeded")
        assert page.locator("#job-warnings").count() == 0
    finally:
        for job in (job_id, fine):
            httpx.delete(f"{service.url}/jobs/{job}", headers=service.headers,
                         timeout=30).raise_for_status()


def test_the_selection_table_shows_each_candidates_prior_as_the_api_does(page, service: Service):
    """A finished job with a selection stage: the dashboard's table has the report's candidates
    in its order, each with its prior (or a dash where the space has none) and its val / train
    accuracies alone, from GET /search-report."""
    service.wait_done()
    tiny = service.get(f"/jobs/{service.job_id}/search-report")
    best = service.get(f"/jobs/{service.job_id}/architecture")["arch"]
    arch = {k: best[k] for k in best if k != "label"}
    selection = {
        "kendall_tau": -1.0, "trust": "none", "changed_pick": True, "shared_pick_place": 2,
        "summary": "the shared weights' ranking did not agree with 2 candidates trained alone "
                   "(Kendall tau -1.00); its pick placed 2 of 2 alone",
        "rounds": [{"candidates": 2, "epochs": 1}], "epochs_trained": 2,
        "network": {"layers": 3, "channels": 16}, "picked": 0,
        "candidates": [
            {"arch": arch, "source": "search", "prior": 0.52, "shared_val_acc": 0.41,
             "alone_val_acc": [0.9], "alone_train_acc": [0.8], "picked": True},
            {"arch": WIDE, "source": "random", "prior": None, "shared_val_acc": 0.47,
             "alone_val_acc": [0.7], "alone_train_acc": [0.6], "picked": False}]}
    job = finished_copy(service, name="selected", search_report={
        **{k: v for k, v in tiny.items() if k != "selection"}, "selection": selection})
    report = service.get(f"/jobs/{job}/search-report")["selection"]
    assert [c["prior"] for c in report["candidates"]] == [0.52, None]
    sign_in(page, service, f"#/jobs/{job}")
    page.wait_for_selector("#selection-table tbody tr", timeout=30_000)
    heads = page.locator("#selection-table thead th").all_text_contents()
    assert heads[:4] == ["Candidate", "from", "prior", "val_acc shared"]
    rows = [r.locator("td").all_text_contents()
            for r in page.locator("#selection-table tbody tr").all()]
    assert [r[1:3] for r in rows] == [["search", "+0.52"], ["random", "–"]]
    assert rows[0][0].endswith("(trained in full)")
