"""The pipeline as the workers see it: mbox in, Review and reply mails out.

The real one calls ``reviewbot.pipeline`` (fetch, review_revision, report).
A deployment can name another adapter in its config (``pipeline =
"module:factory"``); the service tests use that to exercise the queueing and
posting logic with a small fake, and the end-to-end tests use the real one.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from reviewbot.models import Review, Revision, Series
from reviewbot.outbox import ReplyLike


class Pipeline(Protocol):
    def parse(self, mbox: bytes, version: int | None) -> tuple[Series, Revision]: ...

    def review(
        self, series: Series, revision: Revision, tree: Path, *, simulate: bool
    ) -> Review: ...

    def render(self, review: Review, previous: Review | None) -> Sequence[ReplyLike]: ...


class RealPipeline:
    """reviewbot.pipeline, imported on first use (a worker pays for it once)."""

    def parse(self, mbox: bytes, version: int | None) -> tuple[Series, Revision]:
        from reviewbot.pipeline.fetch import from_mbox_bytes

        result = from_mbox_bytes(mbox, version)
        return result.series, result.revision

    def review(self, series: Series, revision: Revision, tree: Path, *, simulate: bool) -> Review:
        from reviewbot.pipeline import review_revision  # type: ignore[attr-defined,unused-ignore]

        review: Review = review_revision(series, revision, tree, simulate=simulate)
        return review

    def render(self, review: Review, previous: Review | None) -> Sequence[ReplyLike]:
        from reviewbot.pipeline.report import render_replies

        replies: Sequence[ReplyLike] = render_replies(review, previous=previous)
        return replies


def load_pipeline(spec: str) -> Pipeline:
    """``""`` for the real pipeline, else ``module:factory`` (called with no argument)."""
    if not spec:
        return RealPipeline()
    module_name, _, attr = spec.partition(":")
    factory: Any = getattr(importlib.import_module(module_name), attr or "Pipeline")
    pipeline: Pipeline = factory()
    return pipeline
