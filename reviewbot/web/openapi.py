"""The OpenAPI 3.1 description of /api/ (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

from reviewbot import __version__

_FILTERS = [
    {
        "name": "state",
        "in": "query",
        "schema": {
            "type": "string",
            "enum": ["pending", "failed", "not-applied", "findings", "clean"],
        },
    },
    {
        "name": "author",
        "in": "query",
        "schema": {"type": "string"},
        "description": "substring of the author, case-insensitive",
    },
    {
        "name": "path",
        "in": "query",
        "schema": {"type": "string"},
        "description": "prefix of a file the series touches, e.g. mm/swap",
    },
    {"name": "list", "in": "query", "schema": {"type": "string"}, "description": "List-Id"},
    {
        "name": "q",
        "in": "query",
        "schema": {"type": "string"},
        "description": "substring of the subject, or a message-id of any mail of the series",
    },
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
    },
]

_FINDING = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "stable across revisions and line shifts"},
        "checker": {"type": "string"},
        "severity": {"type": "string", "enum": ["bug", "possible-bug", "question", "nit", "note"]},
        "file": {"type": "string"},
        "line": {"type": "integer"},
        "function": {"type": "string"},
        "message": {"type": "string"},
        "patch_index": {"type": ["integer", "null"]},
        "patch_message_id": {"type": ["string", "null"]},
        "evidence": {"type": "array", "items": {"type": "object"}},
        "status": {"type": "string", "enum": ["new", "still-present"]},
        "context": {"type": "array", "items": {"type": "object"}},
        "suppressed": {"type": "boolean"},
    },
}

_SERIES = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "author": {"type": "string"},
        "change_id": {"type": ["string", "null"]},
        "list_id": {"type": ["string", "null"]},
        "health": {"type": "string"},
        "latest_version": {"type": "integer"},
        "applied": {"type": ["boolean", "null"]},
        "findings": {"type": "object", "additionalProperties": {"type": "integer"}},
        "simulator": {"type": "string", "enum": ["pass", "fail", "unknown", "none"]},
        "trend": {"type": "array", "items": {"type": "object"}},
        "updated": {"type": ["string", "null"], "format": "date-time"},
    },
}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "403": {"description": "missing or wrong token"},
    "404": {"description": "not found"},
}


def _action(summary: str, param: dict[str, Any], code: str = "200") -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"token": []}],
            "parameters": [param],
            "responses": {code: _ok({"type": "object"}), **_ERRORS},
        }
    }


_ID = {"in": "path", "required": True, "schema": {"type": "integer"}}
_FID = {"name": "finding_id", "in": "path", "required": True, "schema": {"type": "string"}}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reviewbot dashboard API",
            "version": __version__,
            "description": "Series health across revisions, read from reviewbot storage.",
        },
        "components": {
            "schemas": {"Series": _SERIES, "Finding": _FINDING},
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the value of REVIEWBOT_WEB_TOKEN",
                },
            },
        },
        "paths": {
            "/api/series": {
                "get": {
                    "summary": "Series with their health, filtered and paginated",
                    "parameters": _FILTERS,
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "properties": {
                                    "total": {"type": "integer"},
                                    "page": {"type": "integer"},
                                    "pages": {"type": "integer"},
                                    "series": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Series"},
                                    },
                                },
                            }
                        )
                    },
                }
            },
            "/api/series/{series_id}": {
                "get": {
                    "summary": "A series: revisions, reviews, findings, comparison, range-diff",
                    "description": "Each patch of a revision has `unchanged_since`: the version"
                    " since which it and every patch before it kept their git patch-id on the"
                    " same base (null if changed); a review has `reused_from`: the version"
                    " whose results an identical resend took without being analysed again.",
                    "parameters": [
                        {"name": "series_id", **_ID},
                        {
                            "name": "from",
                            "in": "query",
                            "schema": {"type": "integer"},
                            "description": "older version to compare (default: the one before)",
                        },
                        {
                            "name": "to",
                            "in": "query",
                            "schema": {"type": "integer"},
                            "description": "newer version to compare (default: the latest)",
                        },
                    ],
                    "responses": {"200": _ok({"type": "object"}), "404": _ERRORS["404"]},
                }
            },
            "/api/findings/{finding_id}": {
                "get": {
                    "summary": "Every occurrence of a finding id, with simulator reproducers",
                    "parameters": [_FID],
                    "responses": {"200": _ok({"type": "object"}), "404": _ERRORS["404"]},
                }
            },
            "/api/revisions/{revision_id}/rerun": _action(
                "Mark a revision for re-review and queue it", {"name": "revision_id", **_ID}, "202"
            ),
            "/api/findings/{finding_id}/invalid": _action(
                "Mark a finding invalid (it is not raised again)", _FID
            ),
            "/api/outbox/{outbox_id}/approve": _action(
                "Move a held email to pending", {"name": "outbox_id", **_ID}
            ),
            "/api/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": _ok({"type": "object"})}},
            },
        },
    }
