"""Worker hardening: when a queued job was last sent to the broker (so that the reaper can
send again a job whose message the broker lost), and a job's attempts counted apart: errors
the job raised, workers lost under it, and retries its owner asked for.

Revision ID: 0004_worker_hardening
Revises: job_usage
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_worker_hardening"
down_revision: str | None = "job_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = ("failures", "worker_losses", "retries")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))
    for name in COUNTERS:
        op.add_column(
            "jobs", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    # Plain DROP COLUMN, not batch mode (see 0002).
    for name in reversed(COUNTERS):
        op.drop_column("jobs", name)
    op.drop_column("jobs", "enqueued_at")
