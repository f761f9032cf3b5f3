"""Numbered schema migrations, applied in order at start and tracked in ``PRAGMA user_version``.

One module per era of the schema (``v<n>_…``), each holding the migrations it shipped, verbatim: a
database that ran one keeps its schema, so a shipped migration never changes (tests/test_migrations.py
pins every version's schema). :mod:`storage.migrations.runner` applies them.
"""

from storage.migrations.runner import MIGRATIONS, migrate

__all__ = ["MIGRATIONS", "migrate"]
