"""Alembic migrations (env.py, versions/). Revision ids are fixed strings: NNNN_short_name."""
