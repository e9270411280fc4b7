"""Persistence: sqlmodel tables, the async engine, Alembic migrations."""
