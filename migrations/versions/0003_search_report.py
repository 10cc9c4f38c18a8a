"""Search quality: the controller-vs-random report of a job's search, and the random baseline
trained with the same budget.

Revision ID: 0003_search_report
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_search_report"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOB_COLUMNS = ("search_report", "baseline")


def upgrade() -> None:
    for name in JOB_COLUMNS:
        op.add_column("jobs", sa.Column(name, sa.JSON(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN, not batch mode (see 0002).
    for name in reversed(JOB_COLUMNS):
        op.drop_column("jobs", name)
