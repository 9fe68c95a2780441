"""/api/v1/directory/search: the directory search as JSON (liste rouge never included)."""

from __future__ import annotations

from flask import jsonify, request

from portal.api import blueprint, describe
from portal.db import get_session
from portal.directory.models import MAILBOX_TYPES
from portal.directory.search import PROFESSIONS, search_directory
from portal.directory.views import filters_from, page_number

MAX_PER_PAGE = 50


@blueprint.get("/directory/search")
def directory_search():
    filters, errors = filters_from(request.args)
    unknown = set(request.args) - {"q", "profession", "lieu", "type", "page", "per_page"}
    if unknown:
        errors.append(f"Unknown parameter(s): {', '.join(sorted(unknown))}.")
    if filters.profession and filters.profession not in PROFESSIONS:
        errors.append(f"Unknown profession code {filters.profession!r}.")
    if filters.mailbox_type and filters.mailbox_type not in MAILBOX_TYPES:
        errors.append(f"Unknown mailbox type {filters.mailbox_type!r}: use PER, ORG, APP or CAB.")
    try:
        per_page = max(1, min(int(request.args.get("per_page", 20)), MAX_PER_PAGE))
    except ValueError:
        errors.append("per_page must be a whole number.")
        per_page = 20
    if errors:
        return jsonify(
            {"error": {"status": 400, "title": "Bad request", "detail": " ".join(errors)}}
        ), 400
    page = search_directory(
        get_session(), filters, page=page_number(request.args), per_page=per_page
    )
    return jsonify(
        {
            "query": {
                "q": page.filters.q,
                "profession": page.filters.profession or None,
                "lieu": page.filters.place or None,
                "type": page.filters.mailbox_type or None,
            },
            "total": page.total,
            "capped": page.capped,
            "page": page.page,
            "per_page": page.per_page,
            "pages": page.pages,
            "corrections": page.corrections,
            "results": [holder.as_json() for holder in page.results],
        }
    )


_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "description": "A name (any order, accents and case ignored, prefixes and one typo "
        "tolerated), an RPPS/IDNPS, a FINESS/SIRET, or part of an address.",
        "schema": {"type": "string"},
    },
    {
        "name": "profession",
        "in": "query",
        "description": "Profession code (TRE_G15) of the seven professions with an Ordre.",
        "schema": {"type": "string", "enum": sorted(PROFESSIONS)},
    },
    {
        "name": "lieu",
        "in": "query",
        "description": "A département (75, 2A, 971) or a 5-digit postcode.",
        "schema": {"type": "string"},
    },
    {
        "name": "type",
        "in": "query",
        "description": "Mailbox type.",
        "schema": {"type": "string", "enum": list(MAILBOX_TYPES)},
    },
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 20},
    },
]

describe(
    {
        "/directory/search": {
            "get": {
                "summary": "Search the MSSanté directory",
                "description": "Professionals and structures with their public mailboxes; the "
                "preferred address is flagged. Liste rouge mailboxes are never returned.",
                "operationId": "searchDirectory",
                "tags": ["directory"],
                "parameters": _PARAMETERS,
                "responses": {
                    "200": {
                        "description": "One page of holders",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/DirectorySearchPage"}
                            }
                        },
                    },
                    "400": {"description": "A parameter is wrong; the detail says which."},
                },
            }
        }
    },
    {
        "DirectoryMailbox": {
            "type": "object",
            "properties": {
                "address": {"type": "string", "format": "email"},
                "type": {"type": "string", "enum": list(MAILBOX_TYPES)},
                "preferred": {"type": "boolean"},
                "operator_domain": {"type": "string"},
                "service": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "structure_name": {"type": ["string", "null"]},
            },
            "required": ["address", "type", "preferred", "operator_domain"],
        },
        "DirectoryHolder": {
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": ["professional", "structure"]},
                "name": {"type": "string"},
                "idnps": {"type": ["string", "null"]},
                "structure_id": {"type": ["string", "null"]},
                "profession": {"type": ["string", "null"]},
                "savoir_faire": {"type": ["string", "null"]},
                "structure_name": {"type": ["string", "null"]},
                "place": {"type": ["string", "null"]},
                "mailboxes": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/DirectoryMailbox"},
                },
            },
            "required": ["kind", "name", "mailboxes"],
        },
        "DirectorySearchPage": {
            "type": "object",
            "properties": {
                "query": {"type": "object"},
                "total": {
                    "type": "integer",
                    "description": "Holders found, at most 1,000 (see capped).",
                },
                "capped": {
                    "type": "boolean",
                    "description": "More than 1,000 addresses matched: only the best 1,000 are "
                    "ranked and paged; refine the query or add a filter.",
                },
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
                "pages": {"type": "integer"},
                "corrections": {
                    "type": "object",
                    "description": "Query words whose one-typo neighbours also found holders "
                    "(listed after the exact and prefix matches), with those neighbours.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "results": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/DirectoryHolder"},
                },
            },
        },
    },
)
