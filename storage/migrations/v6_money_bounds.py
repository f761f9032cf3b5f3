"""Migration 6: money columns hold integers of at most 10^15 minor units (providers.money.MONEY_BOUND).

So no bug and no absurd input can store a float (SQLite turns an overflowing sum into one) or a sum
beyond 64 bits. SQLite cannot add a CHECK to an existing table: BEFORE triggers refuse the row. Each
message starts with 'money out of range' (storage.ledger.OUT_OF_RANGE). The ledger needs no UPDATE
trigger: it is append-only.

Shipped: never edit, add a migration instead. The triggers are written out from :data:`MONEY_COLUMNS`;
tests/test_migrations.py pins the schema they make.
"""

from __future__ import annotations

#: the bound as it was when this migration shipped (a later MONEY_BOUND needs a migration of its own)
BOUND = 10**15

#: ``(table, column, may be NULL, checked on UPDATE too)``, in the order the triggers were created
MONEY_COLUMNS: tuple[tuple[str, str, bool, bool], ...] = (
    ("users", "balance", False, True),
    ("ledger", "amount", False, False),
    ("ledger", "balance_after", False, False),
    ("orders", "price", False, True),
    ("orders", "cost", True, True),
    ("promo_codes", "amount", False, True),
    ("price_overrides", "price", False, True),
    ("payments", "amount", False, True),
    ("order_renewals", "price", False, True),
)


def money_trigger(table: str, column: str, nullable: bool, event: str) -> str:
    """``CREATE TRIGGER <table>_<column>_<event>_money``: refuses a row whose ``column`` is out of range."""
    value = f"NEW.{column}"
    condition = f"typeof({value}) != 'integer' OR {value} NOT BETWEEN {-BOUND} AND {BOUND}"
    if nullable:
        condition = f"{value} IS NOT NULL AND ({condition})"
    on = f"INSERT ON {table}" if event == "insert" else f"UPDATE OF {column} ON {table}"
    return (
        f"    CREATE TRIGGER {table}_{column}_{event}_money BEFORE {on}\n"
        f"        WHEN {condition}\n"
        f"        BEGIN SELECT RAISE(ABORT, 'money out of range: {table}.{column}'); END;\n"
    )


MIGRATION_6 = "\n" + "".join(
    money_trigger(table, column, nullable, event)
    for table, column, nullable, on_update in MONEY_COLUMNS
    for event in (("insert", "update") if on_update else ("insert",))
)
