"""Constraint-aware search: the Pareto front and the constraint report of a job, the costs of
its best architecture so far, and the costs, feasibility and score of each top-k architecture.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOB_COLUMNS = ("best_costs", "pareto", "constraints")
ARCHITECTURE_COLUMNS = ("costs", "feasible", "score")


def upgrade() -> None:
    for name in JOB_COLUMNS:
        op.add_column("jobs", sa.Column(name, sa.JSON(), nullable=True))
    op.add_column("architectures", sa.Column("costs", sa.JSON(), nullable=True))
    op.add_column("architectures", sa.Column("feasible", sa.Boolean(), nullable=True))
    op.add_column("architectures", sa.Column("score", sa.Float(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not batch mode: batch mode would copy
    # and drop `jobs`, and with foreign keys on SQLite that cascades to the epochs and
    # architectures of every job.
    for name in reversed(ARCHITECTURE_COLUMNS):
        op.drop_column("architectures", name)
    for name in reversed(JOB_COLUMNS):
        op.drop_column("jobs", name)
