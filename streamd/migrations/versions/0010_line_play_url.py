"""line play address

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

A line's play address (where the public watches; the monitor verifies it) and whether the
platform plays the stream where it is pushed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("line") as batch:
        batch.add_column(sa.Column("play_url", sa.String(length=512), nullable=True))
        batch.add_column(
            sa.Column("same_server", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Until now the monitor read every pushed line at push_url/stream_key: keep that for
    # the lines already loaded, until `court load` gives them their play address.
    op.execute(
        sa.text("UPDATE line SET same_server = :yes WHERE push_url <> 'hls'").bindparams(yes=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("line") as batch:
        batch.drop_column("same_server")
        batch.drop_column("play_url")
