"""Persistence: SQLAlchemy Core tables, repositories and Alembic migrations.

One code path serves SQLite (aiosqlite, the embedded default) and PostgreSQL (asyncpg);
the tests run every repository against both.
"""
