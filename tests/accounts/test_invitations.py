"""Platform admins invite staff by e-mail; the one-time link creates the account and the role.
Unknown, used and expired links are refused with a clear message. Password reset by e-mail."""

from __future__ import annotations

import datetime as dt
import re

from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts.models import Account, AccountToken, Membership, Role
from portal.audit import AuditEvent
from portal.db import utcnow
from portal.mail.models import OutboxMessage
from tests.accounts import psc_flow
from tests.accounts.conftest import make_staff
from tests.accounts.helpers import sign_in_client
from tests.factories import make_operator

PASSWORD = "une phrase de passe solide"
LINK = re.compile(r"https?://\S+/(invitation|mot-de-passe/nouveau)/(\S+)")


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def admin_client(app, db_session):
    admin = make_staff(db_session, Role.PLATFORM_ADMIN)
    db_session.commit()
    client = app.test_client()
    sign_in_client(client, admin)
    return client, admin


def invite(client, **fields):
    token = psc_flow.csrf_token(client, "/admin/invitations")
    return client.post("/admin/invitations", data={"csrf_token": token, **fields})


def link_in_mail(db_session, to: str) -> str:
    message = db_session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.to_address == to)
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert message is not None, f"no e-mail to {to}"
    match = LINK.search(message.body_text)
    return "/" + match.group(1) + "/" + match.group(2)


def test_a_region_admin_is_invited_and_creates_their_account(app, db_session):
    client, _admin = admin_client(app, db_session)
    response = invite(
        client, email="Agent.Region@ars.example.fr", role="region_admin", region_code="84"
    )
    assert response.status_code == 302
    listed = page(client.get("/admin/invitations")).select_one("#liste-invitations").get_text()
    assert "agent.region@ars.example.fr" in listed and "Auvergne-Rhône-Alpes" in listed

    message = db_session.exec(
        select(OutboxMessage).where(OutboxMessage.to_address == "agent.region@ars.example.fr")
    ).one()
    assert "Auvergne-Rhône-Alpes" in message.body_text
    link = link_in_mail(db_session, "agent.region@ars.example.fr")
    item = db_session.exec(
        select(AccountToken).where(AccountToken.email == "agent.region@ars.example.fr")
    ).one()
    assert link.split("/")[-1] not in item.token_hash  # only a hash is stored

    invited = app.test_client()
    form = page(invited.get(link))
    assert "Administrateur·rice régional·e" in form.select_one("#resume-invitation").get_text()
    token = form.select_one("input[name=csrf_token]")["value"]
    done = invited.post(
        link,
        data={
            "csrf_token": token,
            "display_name": "Agnès Régent",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert done.status_code == 302 and done.location == "/espace-region/84/"
    account = db_session.exec(
        select(Account).where(Account.email == "agent.region@ars.example.fr")
    ).one()
    assert account.display_name == "Agnès Régent" and account.password_hash.startswith("$argon2id$")
    membership = db_session.exec(
        select(Membership).where(Membership.account_id == account.id)
    ).one()
    assert (membership.role, membership.region_code) == ("region_admin", "84")
    assert invited.get("/espace-region/84/").status_code == 200
    actions = {e.action for e in db_session.exec(select(AuditEvent)).all()}
    assert {"invitation_sent", "role_granted", "sign_in"} <= actions

    # The link works once.
    again = app.test_client().get(link)
    assert again.status_code == 410
    assert "Ce lien a déjà servi" in page(again).select_one("#motif-lien").get_text()


def test_a_weak_password_is_explained_and_nothing_is_lost(app, db_session):
    client, _admin = admin_client(app, db_session)
    operator = make_operator(db_session)
    db_session.commit()
    invite(
        client, email="ops@operateur.example", role="operator_admin", operator_id=str(operator.id)
    )
    link = link_in_mail(db_session, "ops@operateur.example")
    invited = app.test_client()
    token = page(invited.get(link)).select_one("input[name=csrf_token]")["value"]
    response = invited.post(
        link,
        data={
            "csrf_token": token,
            "display_name": "Omar Ops",
            "password": "court",
            "confirm": "court",
        },
    )
    assert response.status_code == 400
    html = page(response)
    assert "au moins 12 caractères" in html.get_text()
    assert html.select_one("input[name=display_name]")["value"] == "Omar Ops"
    assert (
        db_session.exec(select(Account).where(Account.email == "ops@operateur.example")).first()
        is None
    )


def test_the_scope_a_role_needs_is_asked_for(app, db_session):
    client, _admin = admin_client(app, db_session)
    response = invite(client, email="x@example.org", role="region_admin", region_code="")
    assert response.status_code == 400
    assert "Choisissez la région." in page(response).get_text()
    assert page(response).select_one("input[name=email]")["value"] == "x@example.org"


def test_an_unknown_link_is_refused(client):
    response = client.get("/invitation/not-a-real-token")
    assert response.status_code == 404
    assert "Ce lien n’est pas valide" in page(response).get_text()


def test_an_expired_link_is_refused(app, db_session):
    client, _admin = admin_client(app, db_session)
    invite(client, email="late@example.org", role="platform_admin")
    link = link_in_mail(db_session, "late@example.org")
    item = db_session.exec(
        select(AccountToken).where(AccountToken.email == "late@example.org")
    ).one()
    item.expires_at = utcnow() - dt.timedelta(minutes=1)
    db_session.commit()
    response = app.test_client().get(link)
    assert response.status_code == 410
    text = page(response).get_text()
    assert "Ce lien a expiré." in text and "Demandez une nouvelle invitation" in text


def test_a_cancelled_invitation_stops_working(app, db_session):
    client, _admin = admin_client(app, db_session)
    invite(client, email="oops@example.org", role="platform_admin")
    link = link_in_mail(db_session, "oops@example.org")
    item = db_session.exec(
        select(AccountToken).where(AccountToken.email == "oops@example.org")
    ).one()
    confirm = client.get(f"/admin/invitations/{item.id}/annuler")
    assert "Annuler l’invitation de oops@example.org" in page(confirm).get_text()
    token = page(confirm).select_one("input[name=csrf_token]")["value"]
    client.post(f"/admin/invitations/{item.id}/annuler", data={"csrf_token": token})
    assert app.test_client().get(link).status_code == 410


def test_an_existing_account_accepts_while_signed_in(app, db_session):
    client, _admin = admin_client(app, db_session)
    existing = make_staff(db_session, password=PASSWORD)
    db_session.commit()
    invite(client, email=existing.email, role="platform_admin")
    link = link_in_mail(db_session, existing.email)
    stranger = app.test_client()
    assert "connectez-vous avec ce compte" in page(stranger.get(link)).get_text()
    sign_in_client(stranger, existing)
    token = page(stranger.get(link)).select_one("input[name=csrf_token]")["value"]
    assert stranger.post(link, data={"csrf_token": token}).location == "/admin/"
    assert (
        db_session.exec(select(Membership).where(Membership.account_id == existing.id)).one().role
        == "platform_admin"
    )


def test_revoking_a_role_asks_first_and_is_audited(app, db_session):
    client, admin = admin_client(app, db_session)
    region_admin = make_staff(db_session, Role.REGION_ADMIN, region_code="53")
    db_session.commit()
    membership = db_session.exec(
        select(Membership).where(Membership.account_id == region_admin.id)
    ).one()
    url = f"/admin/comptes/{region_admin.id}/roles/{membership.id}/retirer"
    confirm = page(client.get(url))
    assert "Bretagne" in confirm.get_text()
    client.post(url, data={"csrf_token": confirm.select_one("input[name=csrf_token]")["value"]})
    assert (
        db_session.exec(select(Membership).where(Membership.account_id == region_admin.id)).first()
        is None
    )
    event = db_session.exec(select(AuditEvent).where(AuditEvent.action == "role_revoked")).one()
    assert event.actor_account_id == admin.id and event.details == {
        "role": "region_admin",
        "region_code": "53",
    }


def test_the_last_platform_admin_cannot_be_removed(app, db_session):
    for membership in db_session.exec(
        select(Membership).where(Membership.role == "platform_admin")
    ).all():
        db_session.delete(membership)
    client, admin = admin_client(app, db_session)
    membership = db_session.exec(select(Membership).where(Membership.account_id == admin.id)).one()
    url = f"/admin/comptes/{admin.id}/roles/{membership.id}/retirer"
    confirm = page(client.get(url))
    assert "dernier rôle d’administration" in confirm.get_text()
    assert client.post(url, data={"csrf_token": psc_flow.csrf_token(client)}).status_code == 400
    assert db_session.get(Membership, membership.id) is not None


def test_password_reset_by_email(app, db_session):
    account = make_staff(db_session, Role.PLATFORM_ADMIN, password="ancien mot de passe long")
    account.failed_sign_ins = 3
    db_session.commit()
    client = app.test_client()
    token = psc_flow.csrf_token(client, "/mot-de-passe-oublie")
    answer = client.post("/mot-de-passe-oublie", data={"csrf_token": token, "email": account.email})
    assert "Si un compte existe pour" in page(answer).select_one("#confirmation-envoi").get_text()
    link = link_in_mail(db_session, account.email)
    token = page(client.get(link)).select_one("input[name=csrf_token]")["value"]
    mismatch = client.post(
        link, data={"csrf_token": token, "password": PASSWORD, "confirm": PASSWORD + "x"}
    )
    assert "ne sont pas identiques" in page(mismatch).get_text()
    done = client.post(link, data={"csrf_token": token, "password": PASSWORD, "confirm": PASSWORD})
    assert done.location == "/connexion"
    assert client.get(link).status_code == 410  # used
    from portal.accounts.passwords import check_password

    account = db_session.get(Account, account.id)
    assert check_password(account, PASSWORD) and account.failed_sign_ins == 0


def test_password_reset_for_an_unknown_email_says_the_same_and_sends_nothing(client, db_session):
    token = psc_flow.csrf_token(client, "/mot-de-passe-oublie")
    answer = client.post(
        "/mot-de-passe-oublie", data={"csrf_token": token, "email": "nobody@example.org"}
    )
    assert "Si un compte existe pour nobody@example.org" in page(answer).get_text()
    assert (
        db_session.exec(
            select(OutboxMessage).where(OutboxMessage.to_address == "nobody@example.org")
        ).first()
        is None
    )
