"""The pages for people and the pictures: offline API docs, the dashboard's page, the
architecture SVG and the dataset sample grid."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from enas_core.spaces.micro.architecture import MicroArchitecture
from enas_service import repository
from enas_service.models import Job, JobStatus

URL = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?(https?:)?//""", re.I)
ARCH = MicroArchitecture.parse("0 0 1 3 1 2 0 4", "1 1 0 3 0 4 2 2").to_json()
SECOND = MicroArchitecture.parse("1 4 0 2 2 1 0 0", "0 3 1 3 1 0 2 4").to_json()


@pytest.mark.parametrize(("path", "asset"), [
    ("/docs", "/static/vendor/swagger-ui/swagger-ui-bundle.js"),
    ("/redoc", "/static/vendor/redoc/redoc.standalone.js"),
    ("/", "/static/dashboard/app.js"),
])
def test_pages_load_nothing_from_elsewhere(client, path, asset):
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert asset in page.text
    assert not URL.search(page.text), URL.search(page.text)
    assert "cdn" not in page.text.lower()
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp
    for src in re.findall(r"""(?:src|href)=["']([^"']+)""", page.text):
        if src.startswith("/static/"):
            served = client.get(src)
            assert served.status_code == 200 and len(served.content) > 100, src
    script = client.get(asset)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


IMPORT = re.compile(r"""^import\s[^;]*?from\s+"(\.{1,2}/[^"]+)";""", re.M)


def test_every_dashboard_module_is_served_as_javascript(client):
    """The page loads app.js, which imports the views and helpers: each module it reaches,
    followed through their imports, is served from this server as JavaScript (a module that
    404s or comes as text/plain stops the whole dashboard)."""
    seen: set[str] = set()
    todo = ["/static/dashboard/app.js"]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        served = client.get(url)
        assert served.status_code == 200, url
        assert "javascript" in served.headers["content-type"], url
        base = url.rsplit("/", 1)[0]
        for relative in IMPORT.findall(served.text):
            parts = [*base.split("/"), *relative.split("/")]
            path: list[str] = []
            for part in parts:
                if part == "..":
                    path.pop()
                elif part != ".":
                    path.append(part)
            todo.append("/".join(path))
    assert {"/static/dashboard/dom.js", "/static/dashboard/views/job.js",
            "/static/dashboard/views/submit.js"} <= seen


def test_the_docs_pages_are_not_operations(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/", "/docs", "/redoc"} & set(paths)
    assert "/jobs/{job_id}/architecture.svg" in paths
    assert "/datasets/{dataset_id}/samples.png" in paths


def _job_with_architectures(client, db_session, headers) -> str:
    job_id = client.post("/jobs", json={"dataset": "digits", "name": "svg test"},
                         headers=headers).json()["id"]
    job = db_session.get(Job, job_id)
    job.status = JobStatus.succeeded
    repository.replace_architectures(db_session, job_id=job.id, items=[
        {"arch": ARCH, "val_acc": 0.75}, {"arch": SECOND, "val_acc": 0.5}])
    db_session.commit()
    return job_id


def _node_edge_counts(svg: str) -> tuple[int, int]:
    ns = "{http://www.w3.org/2000/svg}"
    groups = [g.get("class", "").split() for g in ET.fromstring(svg).iter(f"{ns}g")]
    return sum("node" in g for g in groups), sum("edge" in g for g in groups)


def test_architecture_svg(client, db_session, alice, bob):
    job_id = _job_with_architectures(client, db_session, alice)
    best = client.get(f"/jobs/{job_id}/architecture.svg", headers=alice)
    assert best.status_code == 200
    assert best.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(best.text)
    title = root.findtext("{http://www.w3.org/2000/svg}title")
    assert title == "svg test: rank 1, val_acc 0.7500"
    # Two cells of 2 nodes: 2 inputs + 2 nodes + output each; 4 op edges each, and into the
    # output both nodes of the conv cell, node 1 alone of the reduction cell (it reads node 0).
    assert _node_edge_counts(best.text) == (2 * 5, 4 + 2 + 4 + 1)
    second = client.get(f"/jobs/{job_id}/architecture.svg?rank=2", headers=alice)
    assert second.status_code == 200 and "rank 2, val_acc 0.5000" in second.text
    assert "1 4 0 2 2 1 0 0" in second.text and "1 4 0 2 2 1 0 0" not in best.text
    assert client.get(f"/jobs/{job_id}/architecture.svg?rank=1", headers=alice).text == best.text

    missing = client.get(f"/jobs/{job_id}/architecture.svg?rank=3", headers=alice)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no architecture of rank 3; the job has ranks 1..2"
    assert client.get(f"/jobs/{job_id}/architecture.svg?rank=0", headers=alice).status_code \
        == 422
    assert client.get(f"/jobs/{job_id}/architecture.svg", headers=bob).status_code == 404
    unknown = "6a1f2a9e-0000-4000-8000-000000000000"
    response = client.get(f"/jobs/{unknown}/architecture.svg", headers=alice)
    assert response.status_code == 404 and response.json()["detail"] == f"no job {unknown}"


def test_architecture_svg_before_there_is_one(client, alice):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    response = client.get(f"/jobs/{job['id']}/architecture.svg", headers=alice)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == ("no architecture yet: the job is queued; the first "
                                         "one comes with the first search epoch")


def test_sample_grid(client, alice, bob, digits_npz):
    dataset = client.post("/datasets", files={"file": ("digits.npz", digits_npz.read_bytes())},
                          headers=alice).json()
    response = client.get(f"/datasets/{dataset['id']}/samples.png", headers=alice)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.mode == "RGB"
    # 10 classes of 40-pixel tiles and a 2-pixel gap; a label column and 8 images a row.
    assert image.size == (96 + 8 * 42, 10 * 42)
    pixels = image.convert("L")
    first_tile = pixels.crop((96, 0, 96 + 40, 40))
    assert first_tile.getextrema()[1] > 200  # a white stroke of a real digit
    small = client.get(f"/datasets/{dataset['id']}/samples.png?per_class=2", headers=alice)
    assert Image.open(io.BytesIO(small.content)).size == (96 + 2 * 42, 10 * 42)
    assert client.get(f"/datasets/{dataset['id']}/samples.png?per_class=17",
                      headers=alice).status_code == 422
    assert client.get(f"/datasets/{dataset['id']}/samples.png", headers=bob).status_code == 404


def test_sample_grid_is_bounded(tmp_path):
    import numpy as np

    from enas_core.data import ImageDataset
    from enas_core.data.preview import sample_grid

    x = np.random.default_rng(0).integers(0, 255, (60, 300, 200, 3), dtype=np.uint8)
    big = ImageDataset(x, np.arange(60, dtype=np.int64) % 30,
                       tuple(f"class number {i}" for i in range(30)))
    image = Image.open(io.BytesIO(sample_grid(big, per_class=99)))
    assert image.size == (96 + 16 * 42, 20 * 42)  # 16 per class, 20 classes at most
