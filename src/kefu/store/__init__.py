"""Persistence: SQLAlchemy Core tables, repositories and Alembic migrations.

One code path serves SQLite (aiosqlite, the embedded default) and PostgreSQL (asyncpg);
the tests run every repository against both.

All SQL on kefu's own tables lives here. Services never hold a connection: they read
through repositories that open their own (``Repositories``), and change things in a unit
of work (``unit_of_work.StoreUnitOfWork``, the ``kefu.ports.UnitOfWork``) through the
repositories it binds to its transaction (``uow.tickets``, ``uow.sagas``, ``uow.mail``,
``uow.webhooks``, ``uow.processed``, ``uow.routing``), with its events emitted into the
outbox in that same transaction. ``tests/unit/test_store_boundary.py`` checks the wall.
"""
