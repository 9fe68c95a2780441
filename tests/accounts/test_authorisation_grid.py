"""The authorisation grid: every route of the back-offices and of the structure space, for
every role, GET and POST.

The routes come from the URL map: a route under ``/admin/``, ``/espace-region/``,
``/espace-operateur/`` or ``/espace-structure/`` that has no line in ``OWNERS`` fails the
test, so a new route cannot ship without saying who may use it.

Each role gets its own small world (a region, operators, structures, an order, a mailbox…),
so what an allowed POST changes never changes what the next role sees. Answers expected:
not signed in → redirect to the sign-in page; signed in without the right → 403 (or 404 when
the object is not within the scope of the URL); allowed → the page (200), a redirect
elsewhere than sign-in (302) or, for a POST without the form's fields, 400.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from bs4 import BeautifulSoup

from portal.accounts.models import AccountToken, Activity, Membership, Role
from portal.regions.models import BulkUpload, SubsidyProgramme
from portal.subscriptions.models import Mailbox, MailboxAccess, Order, OrderLine
from tests.accounts.helpers import sign_in_client
from tests.factories import (
    make_account,
    make_offer,
    make_operator,
    make_professional,
    make_structure,
)

PREFIXES = ("/admin/", "/espace-region/", "/espace-operateur/", "/espace-structure/")

# Who owns each route: the scope whose people (and platform admins) may use it.
#   platform: platform admins only
#   region / operator / structure: the admins of the region, operator or structure in the URL
#   any_region / any_operator: any region (operator) admin; each sees only their own rows
#   signed_in: anyone signed in (lists only their own structures)
OWNERS = {
    "/admin/": "platform",
    "/admin/comptes": "platform",
    "/admin/comptes/<int:account_id>": "platform",
    "/admin/comptes/<int:account_id>/activation": "platform",
    "/admin/comptes/<int:account_id>/roles/<int:membership_id>/retirer": "platform",
    "/admin/invitations": "platform",
    "/admin/invitations/<int:invitation_id>/annuler": "platform",
    "/espace-operateur/": "any_operator",
    "/espace-operateur/<int:operator_id>/": "operator",
    "/espace-operateur/<int:operator_id>/a-traiter": "operator",
    "/espace-operateur/<int:operator_id>/a-traiter/<int:mailbox_id>": "operator",
    "/espace-operateur/<int:operator_id>/commandes": "operator",
    "/espace-operateur/<int:operator_id>/commandes/<int:order_id>/relancer": "operator",
    "/espace-operateur/<int:operator_id>/offres/<int:offer_id>/": "operator",
    "/espace-operateur/<int:operator_id>/offres/<int:offer_id>/brouillon": "operator",
    "/espace-operateur/<int:operator_id>/offres/<int:offer_id>/brouillon/abandonner": "operator",
    "/espace-operateur/<int:operator_id>/offres/<int:offer_id>/publier": "operator",
    "/espace-operateur/<int:operator_id>/offres/<int:offer_id>/retirer": "operator",
    "/espace-operateur/<int:operator_id>/raccordement": "operator",
    "/espace-operateur/bons-de-commande": "any_operator",
    # No scope in the URL: the order's operator decides (its staff and platform admins).
    "/espace-operateur/bons-de-commande/<int:order_id>/reception": "operator",
    "/espace-region/": "any_region",
    "/espace-region/<region_code>/": "region",
    "/espace-region/<region_code>/approbations": "region",
    "/espace-region/<region_code>/approbations/<int:order_id>": "region",
    "/espace-region/<region_code>/commandes-groupees": "region",
    "/espace-region/<region_code>/commandes-groupees/<int:upload_id>": "region",
    "/espace-region/<region_code>/commandes-groupees/<int:upload_id>/commander": "region",
    "/espace-region/<region_code>/commandes-groupees/<int:upload_id>/rapport.csv": "region",
    "/espace-region/<region_code>/commandes-groupees/modele.csv": "region",
    "/espace-region/<region_code>/commandes.csv": "region",
    "/espace-region/<region_code>/programmes/": "region",
    "/espace-region/<region_code>/programmes/<int:programme_id>/": "region",
    "/espace-region/<region_code>/programmes/<int:programme_id>/fermer": "region",
    "/espace-region/<region_code>/programmes/<int:programme_id>/modifier": "region",
    "/espace-region/<region_code>/programmes/<int:programme_id>/publier": "region",
    "/espace-region/<region_code>/programmes/nouveau": "region",
    "/espace-region/<region_code>/tableau-de-bord": "region",
    "/espace-region/<region_code>/tableau-de-bord.csv": "region",
    "/espace-structure/": "signed_in",
    "/espace-structure/<int:structure_id>/": "structure",
    "/espace-structure/<int:structure_id>/boites/<int:mailbox_id>/utilisateurs": "structure",
    "/espace-structure/<int:structure_id>/boites/<int:mailbox_id>/utilisateurs/<int:access_id>/retirer": "structure",
    "/espace-structure/<int:structure_id>/commander": "structure",
    "/espace-structure/<int:structure_id>/commandes/<int:order_id>/decision": "structure",
}

ROLES = (
    "anonymous",
    "stranger",  # a professional with no activity and no role
    "other_structure",  # manager of another structure
    "other_region",  # admin of another region
    "other_operator",  # admin of another operator
    "platform",
    "owner",  # the admin of the region / operator / structure in the URL
    "structure_professional",  # a professional whose PSC activities list the structure
)

# Who, besides platform admins and the owner, passes each kind of route.
ALSO_ALLOWED = {
    "platform": set(),
    "region": set(),
    "operator": set(),
    "structure": {"structure_professional"},
    "any_region": {"other_region"},
    "any_operator": {"other_operator"},
    "signed_in": {
        "stranger",
        "other_structure",
        "other_region",
        "other_operator",
        "structure_professional",
    },
}
OWNER_OF = {
    "platform": "platform",
    "region": "region_admin",
    "operator": "operator_admin",
    "structure": "structure_manager",
    "any_region": "region_admin",
    "any_operator": "operator_admin",
    "signed_in": "structure_manager",
}


def build_world(session, tag: str) -> dict:
    """One region's, one operator's and one structure's things, and one person per role."""
    operator = make_operator(session, mail_domains=[f"grid-{tag}.mssante.fr"])
    other_operator = make_operator(session)
    offer = make_offer(session, operator=operator, slug=f"grid-{tag}", mailbox_types=["ORG"])
    programme = SubsidyProgramme(
        slug=f"grid-{tag}",
        region_code="53",
        offer_id=offer.id,
        name={"fr": "Grille", "en": "Grid"},
        rule="free",
        needs_approval=True,
        status="draft",
    )
    session.add(programme)
    structure = make_structure(session, department_code="29")
    other_structure = make_structure(session, department_code="35")
    professional = make_professional(session)
    session.add(Activity(professional_id=professional.id, structure_id=structure.id))
    people = {
        "stranger": make_account(session, professional_id=make_professional(session).id),
        "structure_professional": make_account(session, professional_id=professional.id),
        "platform": make_account(session),
        "region_admin": make_account(session),
        "operator_admin": make_account(session),
        "structure_manager": make_account(session),
        "other_structure": make_account(session),
        "other_region": make_account(session),
        "other_operator": make_account(session),
        "target": make_account(session),  # what the admin pages act on
    }
    session.flush()
    memberships = [
        ("platform", Role.PLATFORM_ADMIN, {}),
        ("region_admin", Role.REGION_ADMIN, {"region_code": "53"}),
        ("operator_admin", Role.OPERATOR_ADMIN, {"operator_id": operator.id}),
        ("structure_manager", Role.STRUCTURE_MANAGER, {"structure_id": structure.id}),
        ("other_structure", Role.STRUCTURE_MANAGER, {"structure_id": other_structure.id}),
        ("other_region", Role.REGION_ADMIN, {"region_code": "84"}),
        ("other_operator", Role.OPERATOR_ADMIN, {"operator_id": other_operator.id}),
    ]
    for who, role, scope in memberships:
        session.add(Membership(account_id=people[who].id, role=role, **scope))
    target_role = Membership(
        account_id=people["target"].id, role=Role.STRUCTURE_MANAGER, structure_id=structure.id
    )
    session.add(target_role)
    session.flush()
    order = Order(
        idempotency_key=f"grid-{tag}",
        account_id=people["structure_manager"].id,
        structure_id=structure.id,
        offer_revision_id=offer.current_revision_id,
        programme_id=programme.id,
        state="awaiting_approval",
        payment_method="purchase_order",
    )
    session.add(order)
    session.flush()
    mailbox = Mailbox(
        address=f"secretariat@grid-{tag}.mssante.fr",
        type="ORG",
        operator_id=operator.id,
        structure_id=structure.id,
        state="pending",
    )
    session.add(mailbox)
    session.flush()
    session.add(
        OrderLine(
            order_id=order.id,
            mailbox_type="ORG",
            address=mailbox.address,
            mailbox_id=mailbox.id,
        )
    )
    access = MailboxAccess(mailbox_id=mailbox.id, name="Léa Grille", email=f"lea-{tag}@example.org")
    session.add(access)
    upload = BulkUpload(
        region_code="53",
        programme_id=programme.id,
        account_id=people["region_admin"].id,
        filename="grille.csv",
        sha256=f"{tag:0>64}"[:64],
        content=(
            b"finess;siret;type;nom;departement;boites;responsable;email\n"
            b"290000017;;pharmacie;Pharmacie de la grille;29;officine;Anne Grille;anne@example.org\n"
        ),
    )
    session.add(upload)
    invitation = AccountToken(
        purpose="invitation",
        token_hash=f"grid-{tag}".ljust(64, "0"),
        email=f"invite-{tag}@example.org",
        role=Role.REGION_ADMIN,
        scope={"region_code": "53"},
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=7),
    )
    session.add(invitation)
    session.flush()
    return {
        "people": people,
        "args": {
            "region_code": "53",
            "operator_id": operator.id,
            "structure_id": structure.id,
            "offer_id": offer.id,
            "programme_id": programme.id,
            "upload_id": upload.id,
            "order_id": order.id,
            "mailbox_id": mailbox.id,
            "access_id": access.id,
            "account_id": people["target"].id,
            "membership_id": target_role.id,
            "invitation_id": invitation.id,
        },
    }


def grid_routes(app) -> list[tuple[str, str]]:
    rules = [r for r in app.url_map.iter_rules() if (r.rule + "/").startswith(PREFIXES)]
    return sorted(
        (rule.rule, method) for rule in rules for method in sorted(rule.methods & {"GET", "POST"})
    )


def test_every_route_has_an_owner_in_the_grid(app):
    rules = {r.rule for r in app.url_map.iter_rules() if (r.rule + "/").startswith(PREFIXES)}
    assert rules - set(OWNERS) == set(), "new routes: say who may use them in OWNERS"
    assert set(OWNERS) - rules == set(), "routes that no longer exist"


def url_for_rule(rule: str, args: dict) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(args[m.group(1)]), rule)


def csrf_token(client, signed_in: bool) -> str:
    page = client.get("/" if signed_in else "/connexion")
    field = BeautifulSoup(page.get_data(as_text=True), "html.parser").select_one(
        "input[name=csrf_token]"
    )
    return field["value"]


def form_data(token: str) -> dict:
    # A valid token and a decision, so that a refusal comes from the policy or the scope
    # check, never from the form.
    return {"csrf_token": token, "decision": "approve"}


def allowed(kind: str, role: str) -> bool:
    return role in ("platform", "owner") or role in ALSO_ALLOWED[kind]


@pytest.mark.parametrize("role", ROLES)
def test_authorisation_grid(app, db_session, role):
    world = build_world(db_session, role)
    db_session.commit()
    people, args = world["people"], world["args"]
    problems = []
    for rule, method in grid_routes(app):
        kind = OWNERS[rule]
        client = app.test_client()
        if role != "anonymous":
            who = OWNER_OF[kind] if role == "owner" else role
            sign_in_client(client, people[who])
        token = csrf_token(client, signed_in=role != "anonymous")
        url = url_for_rule(rule, args)
        response = client.get(url) if method == "GET" else client.post(url, data=form_data(token))
        status, location = response.status_code, response.location or ""
        to_sign_in = status == 302 and location.startswith("/connexion")
        if role == "anonymous":
            ok = to_sign_in
            expected = "redirect to sign-in"
        elif allowed(kind, role):
            ok = not to_sign_in and status in ((200, 302) if method == "GET" else (200, 302, 400))
            expected = "allowed"
        else:
            ok = status in (403, 404)
            expected = "403/404"
        if not ok:
            problems.append(
                f"{method} {url} ({rule}) as {role}: {status} {location}, expected {expected}"
            )
    assert problems == []


# Objects of another world, reached through the owner's own scope in the URL: never theirs.
FOREIGN_OBJECTS = ("programme_id", "upload_id", "order_id", "mailbox_id", "access_id", "offer_id")


def test_an_owner_cannot_reach_another_scope_objects_through_their_own_url(app, db_session):
    mine = build_world(db_session, "mine")
    theirs = build_world(db_session, "theirs")
    # The other world's region must differ for region objects to be foreign.
    db_session.exec(
        SubsidyProgramme.__table__.update()
        .where(SubsidyProgramme.id == theirs["args"]["programme_id"])
        .values(region_code="84")
    )
    db_session.exec(
        BulkUpload.__table__.update()
        .where(BulkUpload.id == theirs["args"]["upload_id"])
        .values(region_code="84")
    )
    db_session.commit()
    problems = []
    for rule, method in grid_routes(app):
        kind = OWNERS[rule]
        names = set(re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule))
        foreign = names & set(FOREIGN_OBJECTS)
        if kind not in ("region", "operator", "structure") or not foreign:
            continue
        args = dict(mine["args"], **{name: theirs["args"][name] for name in foreign})
        client = app.test_client()
        sign_in_client(client, mine["people"][OWNER_OF[kind]])
        token = csrf_token(client, signed_in=True)
        url = url_for_rule(rule, args)
        response = client.get(url) if method == "GET" else client.post(url, data=form_data(token))
        if response.status_code not in (403, 404):
            problems.append(f"{method} {url} ({rule}): {response.status_code} {response.location}")
    assert problems == []
