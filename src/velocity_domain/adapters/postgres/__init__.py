"""The PostgreSQL store: SQLAlchemy Core tables, Alembic migrations and repositories."""
