"""One end of a unit of work (enas_service.db.end) for a worker's task step and an API
request: committed with its after-commit callbacks, or rolled back; closed either way."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from enas_service.db import after_commit, end, new_session, session_scope
from enas_service.models import Job


def owners(owner: str) -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(Job.owner).where(Job.owner == owner)))


def add_job(session, owner: str) -> None:
    session.add(Job(owner=owner, builtin_dataset="digits", request={}, config={}))
    session.flush()


def test_a_scope_commits_or_rolls_back_and_closes(service_env):
    owner = f"scope-{uuid.uuid4()}"
    with pytest.raises(RuntimeError, match="the step failed"):
        with session_scope() as session:
            add_job(session, owner)
            raise RuntimeError("the step failed")
    assert owners(owner) == []
    ran = []
    with session_scope() as session:
        add_job(session, owner)
        after_commit(session, lambda: ran.append(owners(owner)))  # sees the committed row
    assert ran == [[owner]]
    with session_scope() as session:
        session.delete(session.scalars(select(Job).where(Job.owner == owner)).one())


def test_end_rolls_back_when_not_ok_and_closes_after_a_failing_callback(service_env):
    owner = f"end-{uuid.uuid4()}"
    session = new_session()
    add_job(session, owner)
    end(session, ok=False)
    assert owners(owner) == [] and not session.in_transaction()
    session = new_session()
    add_job(session, owner)
    after_commit(session, lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        end(session)
    assert owners(owner) == [owner]  # the callback runs after the commit
    assert not session.in_transaction()
    with session_scope() as session:
        session.delete(session.scalars(select(Job).where(Job.owner == owner)).one())
