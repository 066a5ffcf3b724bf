"""Persistence: the SQL database (SQLAlchemy 2) and the retrieval index (DuckDB).

Nothing here is imported at server start: ``Database`` is built in the background.
"""
