"""Compute accounting: what each job cost (`jobs.usage`) and the ledger of device time per job,
attempt and phase (`usage_records`) that GET /usage totals per owner.

Revision ID: job_usage
Revises: 0003_search_report
Create Date: 2026-12-08

The file is named 0003a so that the files sort in the chain's order; the revision keeps its
id, which databases already store in alembic_version.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "job_usage"
down_revision: str | None = "0003_search_report"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("usage", sa.JSON(), nullable=True))
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),  # no foreign key: it outlives the job
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("device_name", sa.String(length=200), nullable=False),
        sa.Column("device_info", sa.JSON(), nullable=False),
        sa.Column("memory_kind", sa.String(length=32), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("cpu_seconds", sa.Float(), nullable=False),
        sa.Column("images", sa.BigInteger(), nullable=False),
        sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint("job_id", "attempt", "phase",
                            name=op.f("uq_usage_records_job_id_attempt_phase")),
    )
    op.create_index(op.f("ix_usage_records_job_id"), "usage_records", ["job_id"])
    op.create_index("ix_usage_records_owner_updated_at", "usage_records", ["owner", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_records_owner_updated_at", table_name="usage_records")
    op.drop_index(op.f("ix_usage_records_job_id"), table_name="usage_records")
    op.drop_table("usage_records")
    # In place, not batch mode (see 0002): copying `jobs` would cascade on SQLite.
    op.drop_column("jobs", "usage")
