"""The FHIR R4 API under /fhir/: CapabilityStatement, read and search of Practitioner,
PractitionerRole and Organization, and conditional PATCH by identifier.

Every answer is ``application/fhir+json``; every error an ``OperationOutcome``. Liste rouge
mailboxes are never shown.
"""

from __future__ import annotations

import hmac
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, json, request
from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, select

from portal.db import get_session, utcnow
from portal.directory import fhir
from portal.directory.fhir import FhirError, operation_outcome
from portal.directory.indexing import fold
from portal.directory.models import DirectoryEntry
from portal.directory.search import full_text_condition, mailbox_type_tag, query_words
from portal.directory.writes import apply_patch
from portal.extensions import csrf
from portal.identifiers import (
    FINESS_SYSTEM,
    IDNPS_SYSTEM,
    IDNST_SYSTEM,
    RPPS_SYSTEM,
    SIREN_SYSTEM,
)

blueprint = Blueprint("fhir", __name__, url_prefix="/fhir")
csrf.exempt(blueprint)  # writes authenticate with a bearer token, never with a cookie

FHIR_JSON = "application/fhir+json"
DEFAULT_COUNT = 20
MAX_COUNT = 100
SEARCH_PARAMETERS = {
    "mailbox-mss": "string",
    "mailbox-mss-type": "token",
    "identifier": "token",
    "name": "string",
}
RESULT_PARAMETERS = ("_count", "_offset", "_format", "_total")
TOTAL_MODES = ("none", "estimate", "accurate")
# By default (and with _total=estimate) the Bundle's total is only given when counting is cheap
# (see _count_resources); otherwise it is left out, as FHIR allows: counting the 200,000
# practitioners named "pharmacie" took seconds at a million entries. _total=accurate counts.
TOTAL_CAP = 1000
TOTAL_ROWS_ESTIMATE = 5000
RESOURCES = ("Practitioner", "PractitionerRole", "Organization")


def fhir_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        content_type=f"{FHIR_JSON}; charset=utf-8",
    )


@blueprint.errorhandler(FhirError)
def _fhir_error(error: FhirError):
    get_session().rollback()
    return fhir_response(operation_outcome(error.code, error.message), error.status)


@blueprint.errorhandler(404)
def _not_found(_error):
    return fhir_response(
        operation_outcome("not-found", "This FHIR endpoint has no such resource or operation."), 404
    )


@blueprint.errorhandler(405)
def _method_not_allowed(_error):
    return fhir_response(
        operation_outcome("not-supported", "This interaction is not supported on this resource."),
        405,
    )


def base_url() -> str:
    return request.url_root.rstrip("/") + "/fhir"


@blueprint.get("/metadata")
def metadata():
    return fhir_response(capability_statement())


def capability_statement() -> dict[str, Any]:
    search_params = [{"name": name, "type": kind} for name, kind in SEARCH_PARAMETERS.items()]
    resources = []
    for resource_type in RESOURCES:
        interactions = [{"code": "read"}, {"code": "search-type"}]
        if resource_type != "PractitionerRole":
            interactions.append({"code": "patch"})
        resources.append(
            {
                "type": resource_type,
                "interaction": interactions,
                "conditionalUpdate": False,
                "searchParam": search_params,
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": utcnow().date().isoformat(),
        "publisher": "Portail des offres MSSanté",
        "kind": "instance",
        "implementation": {
            "description": "MSSanté directory of the offers portal",
            "url": base_url(),
        },
        "fhirVersion": fhir.FHIR_VERSION,
        "format": ["json"],
        "patchFormat": [FHIR_JSON],
        "rest": [
            {
                "mode": "server",
                "resource": resources,
                # Paging and totals, for every resource type.
                "searchParam": [
                    {"name": "_count", "type": "number"},
                    {"name": "_offset", "type": "number"},
                    {
                        "name": "_total",
                        "type": "token",
                        "documentation": "none | estimate (default: the total only when "
                        "counting is cheap) | accurate",
                    },
                ],
            }
        ],
    }


# --- Read ---------------------------------------------------------------------------------


@blueprint.get("/Practitioner/<resource_id>")
def read_practitioner(resource_id: str):
    entries = _public_entries(
        get_session(),
        DirectoryEntry.idnps == resource_id,
        DirectoryEntry.mailbox_type.in_(fhir.PERSONAL_TYPES),
    )
    if not entries:
        raise FhirError(404, "not-found", f"Practitioner/{resource_id} does not exist.")
    return fhir_response(fhir.practitioner_resource(resource_id, entries))


@blueprint.get("/Organization/<resource_id>")
def read_organization(resource_id: str):
    entries = _public_entries(
        get_session(),
        DirectoryEntry.holder_key == f"S:{resource_id}",
        DirectoryEntry.mailbox_type.in_(fhir.STRUCTURE_TYPES),
    )
    if not entries:
        raise FhirError(404, "not-found", f"Organization/{resource_id} does not exist.")
    return fhir_response(fhir.organization_resource(entries))


@blueprint.get("/PractitionerRole/<resource_id>")
def read_practitioner_role(resource_id: str):
    idnps, _, structure = resource_id.partition("-")
    conditions = [
        DirectoryEntry.idnps == idnps,
        DirectoryEntry.mailbox_type.in_(fhir.PERSONAL_TYPES),
    ]
    entries = [
        entry
        for entry in _public_entries(get_session(), *conditions)
        if (fhir.organization_id(entry) if entry.structure_id else "0") == structure
    ]
    if not entries:
        raise FhirError(404, "not-found", f"PractitionerRole/{resource_id} does not exist.")
    return fhir_response(fhir.practitioner_role_resource(entries))


def _public_entries(session: Session, *conditions) -> list[DirectoryEntry]:
    return list(
        session.exec(
            select(DirectoryEntry)
            .where(*conditions, DirectoryEntry.liste_rouge.is_(False))
            .order_by(DirectoryEntry.preferred.desc(), DirectoryEntry.address)
        ).all()
    )


# --- Search -------------------------------------------------------------------------------


def _search_conditions(session: Session, resource_type: str) -> list[ColumnElement[bool]]:
    """Translate the query string; unknown parameters are refused, never ignored."""
    types = fhir.STRUCTURE_TYPES if resource_type == "Organization" else fhir.PERSONAL_TYPES
    conditions: list[ColumnElement[bool]] = [
        DirectoryEntry.liste_rouge.is_(False),
        DirectoryEntry.mailbox_type.in_(types),
    ]
    if resource_type == "Organization":
        conditions.append(DirectoryEntry.structure_id.is_not(None))
    else:
        conditions.append(DirectoryEntry.idnps.is_not(None))
    for raw_name in request.args:
        name, _, modifier = raw_name.partition(":")
        if name in RESULT_PARAMETERS and not modifier:
            continue
        if name not in SEARCH_PARAMETERS:
            raise FhirError(
                400,
                "not-supported",
                f"The search parameter {raw_name!r} is not supported. Supported: "
                f"{', '.join([*SEARCH_PARAMETERS, *RESULT_PARAMETERS])}.",
            )
        allowed = ("", "contains", "exact") if name == "mailbox-mss" else ("",)
        if modifier not in allowed:
            raise FhirError(
                400, "not-supported", f"The modifier :{modifier} is not supported on {name}."
            )
        for value in request.args.getlist(raw_name):
            if name == "mailbox-mss-type" and value.strip():
                # Narrow the resource's own type list rather than adding a second IN: the
                # planner multiplies their selectivities and expects 100 times too few rows.
                codes = {code.rpartition("|")[2].upper() for code in value.strip().split(",")}
                types = tuple(code for code in types if code in codes)
                conditions[1] = DirectoryEntry.mailbox_type.in_(types)
                continue
            conditions.append(_condition(session, resource_type, name, modifier, value.strip()))
    return conditions


def _condition(
    session: Session, resource_type: str, name: str, modifier: str, value: str
) -> ColumnElement[bool]:
    if not value:
        raise FhirError(400, "value", f"The search parameter {name} has an empty value.")
    if name == "mailbox-mss":
        address = func.lower(DirectoryEntry.address)
        folded = value.lower()
        if modifier == "exact":
            return DirectoryEntry.address == folded
        if modifier == "contains":
            return address.contains(folded, autoescape=True)
        return _address_prefix_condition(session, address, folded)
    if name == "mailbox-mss-type":
        codes = [code.rpartition("|")[2].upper() for code in value.split(",")]
        return DirectoryEntry.mailbox_type.in_(codes)
    if name == "name":
        return _name_condition(session, resource_type, value)
    return _identifier_condition(resource_type, value)


def _address_prefix_condition(
    session: Session, address: ColumnElement[str], prefix: str
) -> ColumnElement[bool]:
    """``lower(address)`` starts with ``prefix``, through the index of migration 0009.

    PostgreSQL turns the LIKE into a range of its ``text_pattern_ops`` index. SQLite only does
    that for a bare column, so the range is written out: under binary collation the strings
    starting with "abc" are those from "abc" up to, not including, "abd"."""
    starts = address.startswith(prefix, autoescape=True)
    last = ord(prefix[-1])
    if session.get_bind().dialect.name != "sqlite" or last >= 0x10FFFF:
        return starts
    return and_(address >= prefix, address < prefix[:-1] + chr(last + 1), starts)


def _name_condition(session: Session, resource_type: str, value: str) -> ColumnElement[bool]:
    """Every word of ``value`` begins a word of the entry's names (accents and case ignored).

    A single letter or digit is an initial: it narrows what the other words found to
    practitioners whose first or last name begins with it ("J Dupont"), or to organisations
    whose name does. On its own it
    is refused: as a prefix it would match a large part of the directory, and every entry
    holds words beginning with "m" ("mssante" in its address)."""
    tokens = query_words(value)
    if not tokens:
        raise FhirError(400, "value", "The name parameter needs at least one letter or digit.")
    words = [token for token in tokens if len(token) > 1]
    if not words:
        raise FhirError(
            400,
            "too-costly",
            f"name={value!r}: give at least two letters of a name. A single letter only "
            "narrows a search as an initial beside a longer word (name=J Dupont).",
        )
    initials = [token for token in tokens if len(token) == 1]
    # The resource's mailbox types narrow the index scan too: an organisation named like many
    # practitioners ("martin") would otherwise read every one of them to filter them out.
    types = fhir.STRUCTURE_TYPES if resource_type == "Organization" else fhir.PERSONAL_TYPES
    type_tags = tuple(sorted(mailbox_type_tag(session, code) for code in types))
    return and_(
        full_text_condition(session, [[word + "*"] for word in words], [type_tags]),
        *(_initial_condition(resource_type, initial) for initial in initials),
    )


def _initial_condition(resource_type: str, initial: str) -> ColumnElement[bool]:
    """A name of the holder begins with ``initial`` (a folded letter or digit), whatever its
    accent or case: its first character is one of those that fold to it."""
    first_characters = sorted(_characters_folding_to(initial))
    if resource_type == "Organization":
        names = (DirectoryEntry.structure_name, DirectoryEntry.structure_trade_name)
    else:
        names = (DirectoryEntry.first_name, DirectoryEntry.last_name)
    return or_(*(func.substr(name, 1, 1).in_(first_characters) for name in names))


@lru_cache(maxsize=64)
def _characters_folding_to(initial: str) -> frozenset[str]:
    # Latin-1 and Latin Extended-A cover the accented letters of French names (É, Ç, Œ, Ÿ…).
    return frozenset(
        character
        for character in map(chr, range(0x20, 0x180))
        if fold(character)[:1] == initial or fold(character.upper())[:1] == initial
    ) | {initial.upper()}


def _identifier_condition(resource_type: str, value: str) -> ColumnElement[bool]:
    system, separator, code = value.rpartition("|")
    if not separator:
        system, code = "", value
    code = code.strip().upper()
    if resource_type in ("Practitioner", "PractitionerRole"):
        if system == RPPS_SYSTEM:
            return DirectoryEntry.idnps == "8" + code
        if system in (IDNPS_SYSTEM, ""):
            return DirectoryEntry.idnps.in_([code, "8" + code])
        raise FhirError(400, "value", f"Practitioners are not identified in the system {system}.")
    if system == IDNST_SYSTEM:
        return DirectoryEntry.holder_key == f"S:{code}"
    if system == FINESS_SYSTEM:
        return (DirectoryEntry.structure_id_type == "1") & DirectoryEntry.structure_id.in_(
            [code, "1" + code]
        )
    if system == fhir.SIRET_SYSTEM:
        return (DirectoryEntry.structure_id_type == "3") & DirectoryEntry.structure_id.in_(
            [code, "3" + code]
        )
    if system == SIREN_SYSTEM:
        return (
            DirectoryEntry.structure_id_type.in_(["2", "3"])
        ) & DirectoryEntry.structure_id.startswith(code)
    if system == "":
        return DirectoryEntry.structure_id.in_([code, code[1:]]) | (
            DirectoryEntry.holder_key == f"S:{code}"
        )
    raise FhirError(400, "value", f"Organizations are not identified in the system {system}.")


def _total_mode() -> str:
    mode = request.args.get("_total", "estimate")
    if mode not in TOTAL_MODES:
        raise FhirError(400, "value", f"_total must be one of {', '.join(TOTAL_MODES)}.")
    return mode


def _paging() -> tuple[int, int]:
    try:
        count = int(request.args.get("_count", DEFAULT_COUNT))
        offset = int(request.args.get("_offset", 0))
    except ValueError as error:
        raise FhirError(400, "value", "_count and _offset must be whole numbers.") from error
    if count < 0 or offset < 0:
        raise FhirError(400, "value", "_count and _offset cannot be negative.")
    if request.args.get("_format") not in (None, "json", FHIR_JSON, "application/json"):
        raise FhirError(400, "not-supported", "This server answers in JSON only (_format=json).")
    return min(count, MAX_COUNT), offset


def _group_columns(resource_type: str) -> tuple[ColumnElement[str], ...]:
    """What a resource of the search is, in the order of the pages: its key comes last. A
    PractitionerRole's key starts with its practitioner's ``idnps``, which leads so that the
    rows can be read in the order of that column's index, and the page stop early."""
    if resource_type == "PractitionerRole":
        role = (
            DirectoryEntry.idnps
            + "-"
            + func.coalesce(DirectoryEntry.structure_id_type, "")
            + func.coalesce(DirectoryEntry.structure_id, "0")
        )
        return (DirectoryEntry.idnps, role)
    if resource_type == "Practitioner":
        return (DirectoryEntry.idnps,)
    return (DirectoryEntry.holder_key,)


def _count_resources(
    session: Session,
    conditions: list[ColumnElement[bool]],
    columns,
    mode: str,
    few_matches: bool | None = None,
) -> int | None:
    """How many distinct resources match: all of them with ``_total=accurate``; otherwise only
    when that is cheap, else None (the Bundle then has no total).

    PostgreSQL: counting is cheap when the full-text index hands over few rows, so the count
    runs when the planner estimates at most :data:`TOTAL_ROWS_ESTIMATE` matching entries (a
    count with a LIMIT is no cheaper: the planner reads the rows in key order and parses each
    row's words, 0.9 s for "marie"). SQLite reads the matching rows through the FTS5 table in
    any case: the count stops at :data:`TOTAL_CAP` + 1 resources."""
    groups = select(*columns).where(*conditions).group_by(*columns)
    if mode != "accurate":
        if session.get_bind().dialect.name == "sqlite":
            counted = session.exec(
                select(func.count()).select_from(groups.limit(TOTAL_CAP + 1).subquery())
            ).one()
            return counted if counted <= TOTAL_CAP else None
        if few_matches is None:
            few_matches = _few_matches(session, conditions)
        if not few_matches:
            return None
    return session.exec(select(func.count()).select_from(groups.subquery())).one()


def _few_matches(session: Session, conditions: list[ColumnElement[bool]]) -> bool:
    """PostgreSQL: the planner expects at most :data:`TOTAL_ROWS_ESTIMATE` matching entries."""
    estimate = _estimated_rows(session, select(DirectoryEntry.id).where(*conditions))
    return estimate <= TOTAL_ROWS_ESTIMATE


def _estimated_rows(session: Session, statement) -> float:
    """The PostgreSQL planner's estimate of the rows ``statement`` returns (no row is read)."""
    connection = session.connection()
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    plan = connection.exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params
    ).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def search(resource_type: str):
    session = get_session()
    conditions = _search_conditions(session, resource_type)
    count, offset = _paging()
    total_mode = _total_mode()
    columns = _group_columns(resource_type)
    # One resource more than the page tells whether there is a next page without counting.
    limit = count + 1 if count else 0
    # SQLite reads every matching row to group them whatever the LIMIT (the FTS5 rowids come
    # in id order): the same statement then also reads up to TOTAL_CAP + 1 keys, so that the
    # total needs no second pass.
    # Same on PostgreSQL for :contains, which no index serves: the matching rows are read once,
    # in a materialised CTE. Otherwise the planner may walk an index in key order hoping to
    # stop early, and read the whole table through it when almost nothing matches
    # (Organization?mailbox-mss:contains=pharmacie: 5.8 s instead of 0.3 s at a million).
    # And for a name that the planner expects in few entries: it would rather walk the key
    # index and parse each row's words (Practitioner?name=renaudier, 473 entries: 1.8 s
    # instead of 6 ms through the full-text index).
    sqlite = session.get_bind().dialect.name == "sqlite"
    # The planner's estimate, asked once (an EXPLAIN) and used again for the total below.
    few_matches = (
        None if sqlite or "name" not in request.args else _few_matches(session, conditions)
    )
    read_all = (
        sqlite or any(name.endswith(":contains") for name in request.args) or bool(few_matches)
    )
    capped_here = read_all and total_mode == "estimate"
    if capped_here:
        limit = max(limit, TOTAL_CAP + 1 - offset)
    found: list[str] = []
    if limit > 0:
        keyed = select(*(column.label(f"k{n}") for n, column in enumerate(columns)))
        if read_all and not sqlite:
            matched = keyed.where(*conditions).cte("matched").prefix_with("MATERIALIZED")
            page = select(*matched.c).group_by(*matched.c).order_by(*matched.c)
        else:
            page = select(*columns).where(*conditions).group_by(*columns).order_by(*columns)
        rows = session.exec(page.offset(offset).limit(limit)).all()
        found = [row if isinstance(row, str) else row[-1] for row in rows]
    keys = found[:count]
    more = bool(count) and len(found) > count
    total: int | None = None
    if total_mode != "none":
        if len(found) < limit and (found or offset == 0):
            total = offset + len(found)  # the statement reached the last resource
        elif capped_here and limit > 0:
            total = None  # at least TOTAL_CAP + 1 resources
        else:
            total = _count_resources(session, conditions, columns, total_mode, few_matches)
    resources = _resources(session, resource_type, keys)
    params = [(name, value) for name, value in request.args.items(multi=True) if name != "_offset"]
    links = {"self": _page_url(resource_type, params, offset)}
    if more:
        links["next"] = _page_url(resource_type, params, offset + count)
    if offset > 0:
        links["previous"] = _page_url(
            resource_type, params, max(0, offset - (count or DEFAULT_COUNT))
        )
    return fhir_response(fhir.bundle(resources, total=total, base_url=base_url(), links=links))


def _page_url(resource_type: str, params: list[tuple[str, str]], offset: int) -> str:
    query = urlencode([*params, ("_offset", str(offset))])
    return f"{base_url()}/{resource_type}?{query}"


def _resources(session: Session, resource_type: str, keys: list[str]) -> list[dict[str, Any]]:
    if not keys:
        return []
    if resource_type == "Organization":
        column_condition = DirectoryEntry.holder_key.in_(keys)
        types = fhir.STRUCTURE_TYPES
    else:
        idnps_values = (
            [key.partition("-")[0] for key in keys] if resource_type == "PractitionerRole" else keys
        )
        column_condition = DirectoryEntry.idnps.in_(idnps_values)
        types = fhir.PERSONAL_TYPES
    entries = _public_entries(session, column_condition, DirectoryEntry.mailbox_type.in_(types))
    grouped: dict[str, list[DirectoryEntry]] = {}
    for entry in entries:
        if resource_type == "Organization":
            group = entry.holder_key
        elif resource_type == "PractitionerRole":
            group = fhir.practitioner_role_id(entry)
        else:
            group = entry.idnps or ""
        grouped.setdefault(group, []).append(entry)
    resources = []
    for key in keys:
        group_entries = grouped.get(key)
        if not group_entries:
            continue
        if resource_type == "Organization":
            resources.append(fhir.organization_resource(group_entries))
        elif resource_type == "PractitionerRole":
            resources.append(fhir.practitioner_role_resource(group_entries))
        else:
            resources.append(fhir.practitioner_resource(key, group_entries))
    return resources


@blueprint.get("/Practitioner")
def search_practitioners():
    return search("Practitioner")


@blueprint.get("/PractitionerRole")
def search_practitioner_roles():
    return search("PractitionerRole")


@blueprint.get("/Organization")
def search_organizations():
    return search("Organization")


# --- Write --------------------------------------------------------------------------------


@blueprint.patch("/<resource_type>")
def patch_by_identifier(resource_type: str):
    _require_write_token()
    if resource_type not in ("Practitioner", "Organization"):
        raise FhirError(
            404, "not-supported", "PATCH by identifier works on Practitioner and Organization."
        )
    unknown = set(request.args) - {"identifier"}
    if unknown:
        raise FhirError(
            400,
            "not-supported",
            f"Unknown parameter(s) {', '.join(sorted(unknown))}: use ?identifier=system|value.",
        )
    body = request.get_json(force=True, silent=True)
    session = get_session()
    resource = apply_patch(
        session, resource_type=resource_type, identifier=request.args.get("identifier"), body=body
    )
    session.commit()
    return fhir_response(resource)


def _require_write_token() -> None:
    expected = current_app.config["PORTAL_SETTINGS"].fhir_write_token
    if not expected:
        raise FhirError(
            403,
            "forbidden",
            "Writing to this directory over HTTP is disabled; the portal publishes its own mailboxes.",
        )
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
        raise FhirError(
            401, "login", "Send the directory write token as 'Authorization: Bearer …'."
        )
