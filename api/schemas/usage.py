"""Compute accounting: a job's usage and an owner's (GET /usage)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.examples import JOB_USAGE_EXAMPLES


class DevicePublic(BaseModel):
    """Where a job ran: a GPU with its memory, or the CPU's model with the threads torch used."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="cuda or cpu")
    device: str = Field(description="e.g. cuda:0, cpu")
    name: str = Field(description="The GPU's or the CPU's model name")
    memory_bytes: int | None = Field(None, description="GPU: its total memory")
    threads: int | None = Field(None, description="CPU: torch's intra-op threads")
    cores: int | None = Field(None, description="CPU: cores the worker may run on")


class PhaseUsagePublic(BaseModel):
    seconds: float = Field(description="Wall-clock seconds the phase held the device")
    cpu_seconds: float = Field(description="The worker process's CPU time over the phase")
    images: int = Field(description="Images through a network (training and evaluation)")
    peak_memory_bytes: int | None = Field(
        None, description="Peak device memory: the CUDA allocator's peak on a GPU, the "
        "process's peak resident memory on the CPU (see memory_kind)"
    )


class JobUsagePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": JOB_USAGE_EXAMPLES})

    device: DevicePublic = Field(description="The device of its latest attempt")
    memory_kind: Literal["cuda_allocated", "process_rss"] | str
    devices: list[str] = Field(description="Every device its attempts used")
    attempts: int
    phases: dict[str, PhaseUsagePublic] = Field(description="search, final")
    seconds: float
    cpu_seconds: float
    images: int
    peak_memory_bytes: int | None = None


class PhaseTotalsPublic(BaseModel):
    seconds: float
    cpu_seconds: float
    images: int
    jobs: int


class DeviceTotalsPublic(BaseModel):
    device: str
    name: str
    seconds: float
    cpu_seconds: float
    images: int
    jobs: int
    peak_memory_bytes: int | None = None


class UsagePublic(BaseModel):
    """What an owner's jobs cost in a period: device time of the job phases active in it,
    per phase and per device (a GPU-minute is not a CPU-minute: read `devices`)."""

    owner: str
    since: datetime | None
    until: datetime | None
    jobs: int = Field(description="Jobs that used a device in the period (deleted ones too)")
    seconds: float = Field(description="Device seconds, all devices")
    cpu_seconds: float
    images: int
    phases: dict[str, PhaseTotalsPublic]
    devices: list[DeviceTotalsPublic]
