"""Celery workers: thin task shims over reviewbot's stages (see workers/jobs.py)."""
