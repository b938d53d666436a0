"""Celery workers: thin tasks that load, run one pipeline stage, store."""
