"""Whether the database schema is the one this code expects: readiness waits for it.

New pods may start before the migration Job has run. Serving them would run new code on the
old schema, so readiness stays false while any migration is unapplied. Readiness is polled
every few seconds by every kubelet, and loading the migration graph reads every migration
file: once the schema is current it stays current for this process (migrations are never
rolled back under running code), so a positive answer is computed once and kept.
"""

from django.db import connections
from django.db.migrations.executor import MigrationExecutor

_schema_current = False


def unapplied_migrations(alias: str = "default") -> list[str]:
    """``app.migration`` names that the database ``alias`` still lacks, in applying order."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def pending_migrations() -> list[str]:
    """unapplied_migrations(), remembering once that there are none."""
    global _schema_current  # noqa: PLW0603 - once current, a process stays current
    if _schema_current:
        return []
    pending = unapplied_migrations()
    _schema_current = not pending
    return pending
