"""portal tickets: a per-ticket position for messages, so a thread reads in the order it was written even
when two messages share a clock tick (#20)

Revision ID: 0041_ticket_message_order
Revises: 0040_merge
"""

import sqlalchemy as sa
from alembic import op

revision = '0041_ticket_message_order'
down_revision = '0040_merge'
branch_labels = None
depends_on = None

# Existing messages are numbered by the order the thread was listed in until now: (created_at, id).
BACKFILL = sa.text(
    """
    UPDATE portal_ticket_messages SET position = (
        SELECT count(*) FROM portal_ticket_messages AS earlier
        WHERE earlier.ticket_id = portal_ticket_messages.ticket_id
          AND (earlier.created_at < portal_ticket_messages.created_at
               OR (earlier.created_at = portal_ticket_messages.created_at
                   AND earlier.id <= portal_ticket_messages.id))
    )
    """
)


def upgrade() -> None:
    with op.batch_alter_table('portal_ticket_messages') as batch:
        batch.add_column(sa.Column('position', sa.Integer(), nullable=True))
    op.execute(BACKFILL)
    with op.batch_alter_table('portal_ticket_messages') as batch:
        batch.alter_column('position', existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint(
            'uq_portal_ticket_messages_ticket_id_position', ['ticket_id', 'position']
        )


def downgrade() -> None:
    with op.batch_alter_table('portal_ticket_messages') as batch:
        batch.drop_constraint('uq_portal_ticket_messages_ticket_id_position', type_='unique')
        batch.drop_column('position')
