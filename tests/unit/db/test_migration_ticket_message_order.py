"""0041_ticket_message_order numbers the messages already written in the order threads were listed in."""

from __future__ import annotations

from sqlalchemy import text

from overcast.db import Database, migrate

T0 = "2031-03-01 10:00:00.000000"
T1 = "2031-03-01 10:00:05.000000"


def test_existing_messages_are_numbered_per_ticket_by_time_then_id(empty_db_url: str) -> None:
    database = Database(empty_db_url)
    try:
        with database.engine.begin() as connection:
            migrate.upgrade(connection, "0040_merge")
            connection.execute(text(
                "INSERT INTO billing_accounts (id, name, currency, price_list, mode, opened_at, discounts,"
                " alert_percentages, created_at, updated_at)"
                " VALUES ('a-1', 'acme', 'EUR', 'standard', 'postpaid', :t, '[]', '[]', :t, :t)"
            ), {"t": T0})  # fmt: skip
            for ticket in ("t-1", "t-2"):
                connection.execute(text(
                    "INSERT INTO portal_tickets (id, account_id, project_id, opener_user_id, opener_name,"
                    " subject, category, status, last_message_at, created_at, updated_at)"
                    " VALUES (:id, 'a-1', 'p-1', 'u-1', 'u', 'help', 'technical', 'open', :t, :t, :t)"
                ), {"id": ticket, "t": T0})  # fmt: skip
            # Written out of order on purpose: the later message first, then two of one tick.
            for message_id, ticket, at in (("m-c", "t-1", T1), ("m-b", "t-1", T0), ("m-a", "t-1", T0),
                                           ("m-z", "t-2", T1)):  # fmt: skip
                connection.execute(text(
                    "INSERT INTO portal_ticket_messages (id, ticket_id, author_user_id, author_name, staff,"
                    " internal, body, created_at) VALUES (:id, :ticket, 'u-1', 'u', 0, 0, :id, :t)"
                ), {"id": message_id, "ticket": ticket, "t": at})  # fmt: skip
            migrate.upgrade(connection, "0041_ticket_message_order")
            rows = connection.execute(
                text("SELECT id, position FROM portal_ticket_messages ORDER BY ticket_id, position")
            ).all()
        assert [tuple(row) for row in rows] == [("m-a", 1), ("m-b", 2), ("m-c", 3), ("m-z", 1)]
    finally:
        database.dispose()
