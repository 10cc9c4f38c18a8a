"""The API benchmark's raw client (bench/api.py): what it counts is what the server answered.
Against the live test server; checks the counting, not the speed."""

from __future__ import annotations

import asyncio

from bench.api import RawConnection, Tally


def test_the_raw_client_reads_whole_answers_on_one_connection(live_url, live_keys):
    async def run() -> tuple[list[int], Tally]:
        conn = RawConnection(live_url, live_keys["alice"])
        statuses = [await conn.get("/healthz"), await conn.get("/jobs?limit=2")]
        writer = conn.writer
        statuses.append(await conn.get("/jobs/not-a-uuid"))
        assert conn.writer is writer  # kept alive, also after a 422
        tally = Tally()
        await tally.get_raw(conn, "/jobs", timeout=30)
        await tally.get_raw(conn, "/jobs/6a1f2a9e-0000-4000-8000-000000000000", timeout=30)
        await tally.get_raw(RawConnection(live_url, {}), "/jobs", timeout=30)
        conn.close()
        return statuses, tally

    statuses, tally = asyncio.run(run())
    assert statuses == [200, 200, 422]
    assert len(tally.latencies) == 1 and tally.errors == {"404": 1, "401": 1}


def test_a_refused_connection_counts_as_an_error():
    async def run() -> Tally:
        tally = Tally()
        await tally.get_raw(RawConnection("http://127.0.0.1:1", {}), "/", timeout=5)
        return tally

    tally = asyncio.run(run())
    assert tally.latencies == [] and tally.errors == {"ConnectionRefusedError": 1}
