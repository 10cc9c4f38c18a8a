"""What the API returns, as small typed objects (the raw JSON stays in `.data`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import display
from .errors import APIError

if TYPE_CHECKING:
    from ._http import Transport


class ClientHandle(Protocol):
    """What the objects of this package need of the client that made them (`client.Client`
    is one): a protocol, so that they need not import the client, which imports them."""

    transport: Transport

    def architecture_svg(self, job_id: str, *, rank: int = 1) -> str | None: ...

    def delete_dataset(self, dataset: str | Dataset) -> None: ...


@dataclass(frozen=True)
class Dataset:
    """An uploaded dataset (GET /datasets/{id})."""

    id: str
    name: str
    filename: str
    size_bytes: int
    num_samples: int
    image_shape: list[int]
    channels: int
    num_classes: int
    classes: list[str]
    class_counts: dict[str, int]
    created_at: str
    data: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    client: ClientHandle | None = field(repr=False, compare=False, default=None)

    @classmethod
    def from_json(cls, data: dict[str, Any], client: ClientHandle | None = None) -> Dataset:
        names = {f for f in cls.__dataclass_fields__ if f not in ("data", "client")}
        return cls(**{k: data.get(k) for k in names}, data=data, client=client)

    def delete(self) -> None:
        assert self.client is not None, "a Dataset made without a client cannot delete itself"
        self.client.delete_dataset(self.id)


@dataclass(frozen=True)
class Architecture:
    """One architecture of a job: the best (rank 1) or one of the top-k.

    `arch` holds the integer form (`conv`, `reduce`: 4 integers per node, input op input op),
    the same as text (`conv_text`, `reduce_text`) and with op names (`conv_ops`, ...)."""

    job_id: str
    rank: int
    source: str
    val_acc: float | None
    arch: dict[str, Any]
    costs: dict[str, Any] | None = None
    feasible: bool | None = None
    score: float | None = None
    final: dict[str, Any] | None = None
    client: ClientHandle | None = field(repr=False, compare=False, default=None)

    @classmethod
    def from_json(cls, job_id: str, data: dict[str, Any],
                  client: ClientHandle | None = None) -> Architecture:
        return cls(
            job_id=job_id, rank=data.get("rank", 1), source=data.get("source", "final"),
            val_acc=data.get("val_acc"), arch=data.get("arch") or {}, costs=data.get("costs"),
            feasible=data.get("feasible"), score=data.get("score"), final=data.get("final"),
            client=client,
        )

    @property
    def conv_text(self) -> str | None:
        return self.arch.get("conv_text")

    @property
    def reduce_text(self) -> str | None:
        return self.arch.get("reduce_text")

    def svg(self) -> str | None:
        """The server's drawing of the cells (GET /jobs/{id}/architecture.svg?rank=N), or None
        where the server has no drawings."""
        if self.client is None:
            return None
        return self.client.architecture_svg(self.job_id, rank=self.rank)

    def _repr_svg_(self) -> str | None:
        try:
            return self.svg()
        except Exception:  # a notebook repr never raises
            return None

    def _repr_html_(self) -> str:
        return display.architecture_html(self.arch, val_acc=self.val_acc, costs=self.costs)


def optional_svg(client: ClientHandle, path: str) -> str | None:
    """An SVG the server may not offer (an older server, or before drawings exist): None on 404
    or 501 instead of an error."""
    try:
        response = client.transport.request("GET", path, headers={"Accept": "image/svg+xml"})
    except APIError as exc:
        if exc.status in (404, 406, 409, 422, 501):
            return None
        raise
    if "svg" not in response.headers.get("content-type", ""):
        return None
    return response.text
