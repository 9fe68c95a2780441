"""Sign-in and sign-out pages: Pro Santé Connect for professionals, e-mail and password for staff."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from portal.accounts import psc_client
from portal.accounts.psc import record_identity
from portal.accounts.services import (
    account_for_professional,
    record_failed_sign_in,
    record_sign_in,
    record_sign_out,
)
from portal.accounts.session import (
    current_account,
    safe_next_path,
    sign_in,
    sign_out,
)
from portal.db import get_session
from portal.security import SIGN_IN_LIMIT, limiter

log = logging.getLogger(__name__)
blueprint = Blueprint("accounts", __name__)

_NEXT_KEY = "psc_next"
_ID_TOKEN_KEY = "psc_id_token"  # noqa: S105 (a session key, not a secret)


def _psc_failures() -> dict[str, tuple[str, str]]:
    """What each failed PSC sign-in tells the person: a title and what to do."""
    start_again = _("Recommencez la connexion avec le bouton Pro Santé Connect.")
    return {
        "state": (
            _("La demande de connexion n’est pas reconnue"),
            _(
                "Elle a expiré, a déjà servi ou n’a pas été faite depuis ce portail. %(action)s",
                action=start_again,
            ),
        ),
        "nonce": (
            _("La réponse de Pro Santé Connect ne correspond pas à votre demande"),
            _(
                "Par sécurité, la connexion a été refusée. %(action)s Si le problème persiste, contactez le support.",
                action=start_again,
            ),
        ),
        "signature": (
            _("La réponse de Pro Santé Connect n’a pas pu être vérifiée"),
            _(
                "Sa signature n’est pas valide : par sécurité, la connexion a été refusée. %(action)s Si le problème persiste, contactez le support.",
                action=start_again,
            ),
        ),
        "acr": (
            _("Niveau d’authentification insuffisant"),
            _(
                "Le portail demande une authentification forte, par carte CPS ou par l’application e-CPS. Recommencez la connexion avec l’un de ces moyens."
            ),
        ),
        "refused": (
            _("Pro Santé Connect a refusé de finaliser la connexion"),
            _(
                "Le code de connexion a expiré ou a déjà servi. %(action)s",
                action=start_again,
            ),
        ),
        "cancelled": (
            _("Connexion annulée"),
            _(
                "Vous avez interrompu la connexion à Pro Santé Connect. Vous pouvez recommencer quand vous le souhaitez."
            ),
        ),
        "expired": (
            _("La réponse de Pro Santé Connect a expiré"),
            start_again,
        ),
        "claims": (
            _("La réponse de Pro Santé Connect est invalide"),
            _(
                "Par sécurité, la connexion a été refusée. %(action)s Si le problème persiste, contactez le support.",
                action=start_again,
            ),
        ),
        "identity": (
            _("Votre identifiant national n’a pas été transmis"),
            _(
                "Pro Santé Connect n’a pas transmis votre identifiant RPPS ou ADELI, sans lequel le portail ne peut pas vous reconnaître. Contactez le support de Pro Santé Connect."
            ),
        ),
        "unavailable": (
            _("Pro Santé Connect ne répond pas"),
            _(
                "Le service de connexion des professionnels de santé est indisponible pour le moment. Réessayez dans quelques minutes."
            ),
        ),
        "not_configured": (
            _("La connexion par Pro Santé Connect n’est pas disponible"),
            _(
                "Ce portail n’est pas raccordé à Pro Santé Connect. Les agents peuvent se connecter avec leur adresse e-mail et leur mot de passe."
            ),
        ),
        "inactive": (
            _("Compte désactivé"),
            _(
                "Votre compte a été désactivé. Contactez l’équipe de la plateforme pour le réactiver."
            ),
        ),
    }


def _psc_failed(reason: str, detail: str = ""):
    """Leave no session, log and audit the failure, and tell the person what to do."""
    next_path = session.get(_NEXT_KEY)
    sign_out()
    log.warning("psc sign-in failed", extra={"reason": reason, "detail": detail[:500]})
    db = get_session()
    record_failed_sign_in(db, method="psc", reason=reason, ip_address=request.remote_addr)
    db.commit()
    failures = _psc_failures()
    title, message = failures.get(reason, failures["claims"])
    status = 503 if reason in ("unavailable", "not_configured") else 400
    retry_url = url_for(".sign_in_page", next=next_path) if next_path else url_for(".sign_in_page")
    return render_template(
        "accounts/sign_in_failed.html", title=title, message=message, retry_url=retry_url
    ), status


@blueprint.get("/connexion")
def sign_in_page():
    next_path = safe_next_path(request.args.get("next"))
    return render_template(
        "accounts/sign_in.html",
        next_path=next_path,
        account=current_account(),
        psc_available=psc_client.psc_client() is not None,
    )


@blueprint.get("/connexion/psc")
@limiter.limit(SIGN_IN_LIMIT)
def psc_start():
    next_path = safe_next_path(request.args.get("next")) or url_for("site.home")
    try:
        response = psc_client.start_sign_in(url_for(".psc_callback", _external=True))
    except psc_client.PscSignInError as error:
        return _psc_failed(error.reason, error.detail)
    session[_NEXT_KEY] = next_path
    return response


@blueprint.get("/connexion/psc/retour")
@limiter.limit(SIGN_IN_LIMIT)
def psc_callback():
    try:
        result = psc_client.finish_sign_in()
    except psc_client.PscSignInError as error:
        return _psc_failed(error.reason, error.detail)
    db = get_session()
    professional = record_identity(db, result.identity)
    account = account_for_professional(db, professional)
    if not account.is_active:
        db.commit()
        return _psc_failed("inactive", f"account {account.id}")
    next_path = safe_next_path(session.get(_NEXT_KEY)) or url_for("site.home")
    sign_in(account, method="psc")
    session[_ID_TOKEN_KEY] = result.id_token
    record_sign_in(db, account, method="psc", ip_address=request.remote_addr)
    db.commit()
    log.info("psc sign-in", extra={"account_id": account.id})
    flash(_("Vous êtes connecté·e en tant que %(name)s.", name=account.display_name), "success")
    return redirect(next_path)


@blueprint.post("/deconnexion")
def sign_out_view():
    account = current_account()
    id_token = session.get(_ID_TOKEN_KEY)
    method = session.get("sign_in_method")
    sign_out()
    if account is None:
        return redirect(url_for("site.home"))
    db = get_session()
    record_sign_out(db, account, ip_address=request.remote_addr)
    db.commit()
    if method == "psc":
        url = psc_client.end_session_url(id_token, url_for(".signed_out", _external=True))
        if url:
            return redirect(url)
    return redirect(url_for(".signed_out"))


@blueprint.get("/deconnexion/terminee")
def signed_out():
    return render_template("accounts/signed_out.html")
