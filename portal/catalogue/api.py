"""``/api/v1/offers`` and ``/api/v1/offers/<slug>``: the published catalogue as open data.

The list takes the same filter parameters as the ``/offres`` page (the filter manifest), so a
page URL's query works unchanged against the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import abort, jsonify, request, url_for
from werkzeug.exceptions import BadRequest

from portal.api import blueprint, describe
from portal.catalogue.filters import CATALOGUE_FILTERS, MAX_PER_PAGE, PER_PAGE, SORTS, Kind
from portal.catalogue.index import CatalogueEntry, CatalogueIndex
from portal.catalogue.services import find_offer, search_catalogue
from portal.db import get_session


class _ApiBadRequest(BadRequest):
    portal_detail = True  # the error handler shows this description as the detail


def _positive_int(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise _ApiBadRequest(f"{name} must be a whole number between 1 and {maximum}.")
    return int(raw)


def offer_json(entry: CatalogueEntry, index: CatalogueIndex, *, detail: bool = False) -> dict:
    operator = entry.operator
    data: dict[str, Any] = {
        "slug": entry.slug,
        "name": entry.name,
        "demo": entry.demo,
        "url": url_for("catalogue.offer", slug=entry.slug, _external=True),
        "operator": {
            "slug": operator.slug,
            "name": operator.name,
            "kind": operator.kind,
            "demo": operator.demo,
            "ans_contract": operator.ans_contract,
            "hds_certified": operator.hds_certified,
        },
        "mailbox_types": list(entry.mailbox_types),
        "audience": {
            "professions": list(entry.professions),
            "structure_types": list(entry.structure_types),
            "max_per_professional": entry.max_per_professional,
        },
        "coverage": {
            "national": entry.coverage_national,
            "regions": list(entry.coverage_regions),
            "departments": list(entry.coverage_departments),
        },
        "price": {
            "amount_cents": entry.price_cents,
            "currency": entry.currency,
            "billing_period": entry.billing_period,
            "monthly_amount_cents": entry.monthly_price_cents,
            "setup_fee_cents": entry.setup_fee_cents,
            "commitment_months": entry.commitment_months,
            "vat_rate_bp": entry.vat_rate_bp,
            "free": entry.is_free,
        },
        "revision": entry.revision_number,
        "summary": entry.summary,
        "features": entry.features,
        "subsidies": [
            {
                "programme": p.slug,
                "region": p.region_code,
                "name": p.name,
                "rule": p.rule,
                "value": p.value,
                "duration_months": p.duration_months,
                "structure_types": list(p.structure_types),
                "professions": list(p.professions),
                "departments": list(p.departments),
                "needs_approval": p.needs_approval,
                "starts_on": p.starts_on.isoformat() if p.starts_on else None,
                "ends_on": p.ends_on.isoformat() if p.ends_on else None,
                "quota_reached": p.quota_exhausted,
            }
            for p in entry.programmes
        ],
    }
    if detail:
        data["description"] = entry.description
        data["eligibility"] = entry.eligibility
        data["operator"]["website"] = operator.website
        data["operator"]["support_hours"] = operator.support_hours or None
        data["attributes"] = [
            {
                "key": a.key,
                "group": a.group,
                "type": a.type,
                "unit": a.unit,
                "label": a.label,
                "stated": a.source != "features" or a.key in entry.features,
                "null_means": a.null_means or None,
            }
            for a in index.attributes
        ]
    return data


@blueprint.get("/offers")
def offers_list():
    per_page = _positive_int("per_page", PER_PAGE, MAX_PER_PAGE)
    _positive_int("page", 1, 99_999)
    index, result = search_catalogue(session=get_session(), args=request.args, per_page=per_page)
    state = result.state
    query = state.query(page=result.page)

    def link(page: int) -> str:
        pairs = [*state.query(), ("page", str(page)), ("per_page", str(per_page))]
        return url_for("api.offers_list") + "?" + urlencode(pairs)

    return jsonify(
        {
            "data": [offer_json(entry, index) for entry in result.entries],
            "meta": {
                "total": result.total,
                "page": result.page,
                "per_page": per_page,
                "pages": result.pages,
                "filters": {param: list(values) for param, values in state.values.items()}
                | (
                    {"prix_max": state.typed["prix_max"]}
                    if state.max_price_cents is not None
                    else {}
                ),
                "sort": state.sort,
                "ignored": [
                    {"parameter": i.param, "value": i.value, "reason": i.reason}
                    for i in state.ignored
                ],
                "facets": result.facets,
            },
            "links": {
                "self": link(result.page),
                "first": link(1),
                "last": link(result.pages),
                "next": link(result.page + 1) if result.page < result.pages else None,
                "prev": link(result.page - 1) if result.page > 1 else None,
                "page": url_for("catalogue.offers") + (f"?{urlencode(query)}" if query else ""),
            },
        }
    )


@blueprint.get("/offers/<slug>")
def offer_detail(slug: str):
    index, entry = find_offer(session=get_session(), slug=slug)
    if entry is None:
        abort(404)
    return jsonify({"data": offer_json(entry, index, detail=True)})


def _filter_parameters() -> list[dict]:
    descriptions = {
        Kind.SELECT: "One value.",
        Kind.ANY_OF: "Repeat to keep offers matching any of the values.",
        Kind.ALL_OF: "Repeat to keep offers matching all the values.",
        Kind.FLAG: "Set to 1.",
        Kind.MAX_PRICE: "Euros excluding VAT per mailbox per month, e.g. 4.50 or 4,50.",
    }
    about = {
        "region": "INSEE region code where the visitor practises.",
        "departement": "INSEE department code (2A, 2B, 971…).",
        "profession": "RPPS profession code (10 physician, 21 pharmacist…): offers of personal mailboxes open to it.",
        "structure": "Structure type (msp, pharmacie…): offers of organisational/application mailboxes for it.",
        "type": "Mailbox type: PER, ORG or APP.",
        "gratuit": "Only offers with no subscription and no setup fee.",
        "prix_max": "Maximum monthly price.",
        "fonction": "Key of a boolean comparison attribute (mobile_app, psc_login…) the offer must have.",
        "logiciel": "Name of an integrated practice software.",
        "pj_min": "Minimum attachment size in MB.",
        "suppression": "aucune (no automatic deletion) or automatique.",
        "operateur": "Operator kind: national, regional, commercial, establishment.",
    }
    parameters = []
    for spec in CATALOGUE_FILTERS:
        multiple = spec.kind in (Kind.ANY_OF, Kind.ALL_OF)
        schema: dict[str, Any] = {"type": "string"}
        parameters.append(
            {
                "name": spec.param,
                "in": "query",
                "required": False,
                "description": f"{about.get(spec.param, '')} {descriptions[spec.kind]}".strip(),
                "schema": {"type": "array", "items": schema} if multiple else schema,
                **({"style": "form", "explode": True} if multiple else {}),
            }
        )
    return parameters


describe(
    {
        "/offers": {
            "get": {
                "summary": "Published offers, filtered as on the /offres page",
                "operationId": "listOffers",
                "tags": ["catalogue"],
                "parameters": [
                    *_filter_parameters(),
                    {
                        "name": "tri",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(SORTS), "default": "pertinence"},
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {
                        "name": "per_page",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_PER_PAGE,
                            "default": PER_PAGE,
                        },
                    },
                ],
                "responses": {
                    "200": {
                        "description": "A page of offers. Values that could not be used are listed in meta.ignored.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/OfferList"}
                            }
                        },
                    },
                    "400": {
                        "description": "page or per_page is not a valid number.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                },
            }
        },
        "/offers/{slug}": {
            "get": {
                "summary": "One published offer with its current terms and the comparison grid",
                "operationId": "getOffer",
                "tags": ["catalogue"],
                "parameters": [
                    {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "The offer.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "data": {"$ref": "#/components/schemas/OfferDetail"}
                                    },
                                }
                            }
                        },
                    },
                    "404": {
                        "description": "No published offer has this slug.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                },
            }
        },
    },
    {
        "Localised": {
            "type": "object",
            "description": "Text in French and English.",
            "properties": {"fr": {"type": "string"}, "en": {"type": "string"}},
        },
        "Offer": {
            "type": "object",
            "required": ["slug", "name", "operator", "mailbox_types", "price", "features"],
            "properties": {
                "slug": {"type": "string"},
                "name": {"type": "string"},
                "demo": {"type": "boolean", "description": "Invented demonstration data."},
                "url": {"type": "string", "format": "uri"},
                "operator": {
                    "type": "object",
                    "properties": {
                        "slug": {"type": "string"},
                        "name": {"type": "string"},
                        "kind": {
                            "type": "string",
                            "enum": ["national", "commercial", "regional", "establishment"],
                        },
                        "demo": {"type": "boolean"},
                        "ans_contract": {"type": "boolean"},
                        "hds_certified": {"type": "boolean"},
                    },
                },
                "mailbox_types": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["PER", "ORG", "APP", "CAB"]},
                },
                "audience": {
                    "type": "object",
                    "properties": {
                        "professions": {"type": "array", "items": {"type": "string"}},
                        "structure_types": {"type": "array", "items": {"type": "string"}},
                        "max_per_professional": {"type": ["integer", "null"]},
                    },
                },
                "coverage": {
                    "type": "object",
                    "properties": {
                        "national": {"type": "boolean"},
                        "regions": {"type": "array", "items": {"type": "string"}},
                        "departments": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "price": {
                    "type": "object",
                    "properties": {
                        "amount_cents": {
                            "type": "integer",
                            "description": "Excluding VAT, per mailbox per billing period.",
                        },
                        "currency": {"type": "string"},
                        "billing_period": {"type": "string", "enum": ["month", "year"]},
                        "monthly_amount_cents": {"type": "integer"},
                        "setup_fee_cents": {"type": "integer"},
                        "commitment_months": {"type": "integer"},
                        "vat_rate_bp": {
                            "type": "integer",
                            "description": "Basis points: 2000 = 20 %.",
                        },
                        "free": {"type": "boolean"},
                    },
                },
                "revision": {"type": "integer"},
                "summary": {"$ref": "#/components/schemas/Localised"},
                "features": {
                    "type": "object",
                    "description": "Comparison attribute key → value; null means not stated, except where the attribute's null_means says otherwise.",
                    "additionalProperties": True,
                },
                "subsidies": {"type": "array", "items": {"$ref": "#/components/schemas/Subsidy"}},
            },
        },
        "OfferDetail": {
            "allOf": [
                {"$ref": "#/components/schemas/Offer"},
                {
                    "type": "object",
                    "properties": {
                        "description": {"$ref": "#/components/schemas/Localised"},
                        "eligibility": {"$ref": "#/components/schemas/Localised"},
                        "attributes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "key": {"type": "string"},
                                    "group": {"type": "string"},
                                    "type": {
                                        "type": "string",
                                        "enum": ["boolean", "integer", "text", "list"],
                                    },
                                    "unit": {"type": ["string", "null"]},
                                    "label": {"$ref": "#/components/schemas/Localised"},
                                    "stated": {"type": "boolean"},
                                    "null_means": {
                                        "oneOf": [
                                            {"$ref": "#/components/schemas/Localised"},
                                            {"type": "null"},
                                        ]
                                    },
                                },
                            },
                        },
                    },
                },
            ]
        },
        "Subsidy": {
            "type": "object",
            "properties": {
                "programme": {"type": "string"},
                "region": {"type": "string"},
                "name": {"$ref": "#/components/schemas/Localised"},
                "rule": {"type": "string", "enum": ["free", "percent", "amount"]},
                "value": {
                    "type": ["integer", "null"],
                    "description": "Percent, or cents per mailbox-month.",
                },
                "duration_months": {"type": ["integer", "null"]},
                "needs_approval": {"type": "boolean"},
                "starts_on": {"type": ["string", "null"], "format": "date"},
                "ends_on": {"type": ["string", "null"], "format": "date"},
                "quota_reached": {"type": "boolean"},
            },
        },
        "OfferList": {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Offer"}},
                "meta": {
                    "type": "object",
                    "properties": {
                        "total": {"type": "integer"},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                        "pages": {"type": "integer"},
                        "filters": {"type": "object"},
                        "sort": {"type": "string"},
                        "ignored": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "parameter": {"type": "string"},
                                    "value": {"type": "string"},
                                    "reason": {
                                        "type": "string",
                                        "enum": [
                                            "unknown_value",
                                            "not_a_number",
                                            "duplicate",
                                            "one_value_only",
                                            "outside_region",
                                        ],
                                    },
                                },
                            },
                        },
                        "facets": {
                            "type": "object",
                            "description": "Filter parameter → value → number of offers if that value were chosen.",
                        },
                    },
                },
                "links": {"type": "object"},
            },
        },
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "integer"},
                        "title": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                }
            },
        },
    },
)
