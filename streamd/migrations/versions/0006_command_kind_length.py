"""longer command kinds

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

`restart_publisher` is 17 characters; stream_command.kind held 16 (PostgreSQL refused it,
SQLite does not check lengths).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stream_command") as batch:
        batch.alter_column("kind", existing_type=sa.String(length=16), type_=sa.String(length=32))


def downgrade() -> None:
    with op.batch_alter_table("stream_command") as batch:
        batch.alter_column("kind", existing_type=sa.String(length=32), type_=sa.String(length=16))
