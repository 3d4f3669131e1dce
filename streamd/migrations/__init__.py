"""Alembic migrations; run with `streamd db upgrade`."""
