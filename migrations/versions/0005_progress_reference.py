"""The ETA's reference: the first progress the running attempt of a job reported after its
start, and when (`enas_core.progress`). The rate of progress measured from there leaves out the
preparing and the first, slow steps, which made early ETAs hours long.

Revision ID: 0005_progress_reference
Revises: 0004_worker_hardening
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_progress_reference"
down_revision: str | None = "0004_worker_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("progress_from", sa.Float(), nullable=True))
    op.add_column("jobs", sa.Column("progress_from_at", sa.DateTime(timezone=True),
                                    nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN, not batch mode (see 0002).
    op.drop_column("jobs", "progress_from_at")
    op.drop_column("jobs", "progress_from")
