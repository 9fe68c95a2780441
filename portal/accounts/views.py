"""Sign-in and sign-out pages: Pro Santé Connect for professionals, e-mail and password for staff."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_time
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlmodel import select

from portal.accounts import passwords, psc_client, tokens
from portal.accounts.forms import (
    AcceptInvitationForm,
    NewPasswordForm,
    ResetRequestForm,
    SignInForm,
)
from portal.accounts.models import Account, Activity, Role, Structure
from portal.accounts.psc import record_identity
from portal.accounts.roles import role_label, scope_label
from portal.accounts.services import (
    LinkRefused,
    account_for_professional,
    link_professional,
    record_failed_sign_in,
    record_sign_in,
    record_sign_out,
)
from portal.accounts.session import (
    current_account,
    current_professional,
    login_required,
    safe_next_path,
    sign_in,
    sign_out,
)
from portal.app import settings_of
from portal.db import get_session
from portal.i18n import current_language
from portal.security import INVITATION_LIMIT, RESET_LIMIT, SIGN_IN_LIMIT, limiter

log = logging.getLogger(__name__)
blueprint = Blueprint("accounts", __name__)

_NEXT_KEY = "psc_next"
_LINK_KEY = "psc_link_account_id"
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
        "already_linked": (
            _("Cette identité Pro Santé Connect est déjà liée à un autre compte"),
            _(
                "Elle ne peut être liée qu’à un seul compte. Connectez-vous avec l’autre compte, ou demandez à l’équipe de la plateforme de les rapprocher."
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


def _render_sign_in(form: SignInForm, status: int = 200, problem: str | None = None):
    return render_template(
        "accounts/sign_in.html",
        form=form,
        problem=problem,
        next_path=safe_next_path(request.args.get("next")),
        account=current_account(),
        psc_available=psc_client.psc_client() is not None,
    ), status


@blueprint.get("/connexion")
def sign_in_page():
    return _render_sign_in(SignInForm())


@blueprint.post("/connexion")
@limiter.limit(SIGN_IN_LIMIT)
def sign_in_with_password():
    """Staff sign in with e-mail and password; lock-out after repeated failures."""
    form = SignInForm()
    if not form.validate_on_submit():
        return _render_sign_in(form, 400)
    db = get_session()
    email = form.email.data.strip().lower()
    account = db.exec(select(Account).where(Account.email == email)).first()
    ip_address = request.remote_addr
    if account is not None and passwords.is_locked(account):
        record_failed_sign_in(
            db, method="password", reason="locked", ip_address=ip_address, account=account
        )
        db.commit()
        return _render_sign_in(form, 429, _locked_message(account))
    if not passwords.check_password(account, form.password.data) or not account.is_active:
        reason = "unknown_email" if account is None else "wrong_password"
        locked = False
        if account is not None and account.is_active:
            locked = passwords.register_failure(account)
        elif account is not None:
            reason = "inactive"
        record_failed_sign_in(
            db, method="password", reason=reason, ip_address=ip_address, account=account,
            label=None if account else email,
        )  # fmt: skip
        db.commit()
        log.warning("password sign-in failed", extra={"reason": reason})
        if locked:
            return _render_sign_in(form, 429, _locked_message(account))
        return _render_sign_in(
            form,
            400,
            _(
                "Adresse e-mail ou mot de passe incorrect. Vérifiez-les, ou choisissez un nouveau mot de passe avec le lien « Mot de passe oublié »."
            ),
        )
    sign_in(account, method="password")
    record_sign_in(db, account, method="password", ip_address=ip_address)
    db.commit()
    flash(_("Vous êtes connecté·e en tant que %(name)s.", name=account.display_name), "success")
    return redirect(safe_next_path(request.args.get("next")) or url_for("site.home"))


def _locked_message(account: Account) -> str:
    until = format_time(account.locked_until, format="short")
    return _(
        "Trop d’essais infructueux : ce compte est bloqué jusqu’à %(time)s. Patientez, ou choisissez un nouveau mot de passe avec le lien « Mot de passe oublié ».",
        time=until,
    )


@blueprint.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT, methods=["POST"])
def forgotten_password():
    form = ResetRequestForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("accounts/forgotten_password.html", form=form), 400
        db = get_session()
        tokens.request_password_reset(
            db,
            email=form.email.data,
            locale=current_language(),
            public_url=settings_of(current_app).public_url,
            ip_address=request.remote_addr,
        )
        db.commit()
        # The same answer whether or not an account exists: nobody learns who has one.
        return render_template("accounts/forgotten_password_sent.html", email=form.email.data)
    return render_template("accounts/forgotten_password.html", form=form)


def _token_refused(kind: str, reason: str):
    messages = {
        "unknown": _("Ce lien n’est pas valide. Vérifiez que vous avez copié l’adresse complète."),
        "used": _("Ce lien a déjà servi : il ne fonctionne qu’une fois."),
        "expired": _("Ce lien a expiré."),
    }
    follow_up = (
        _("Demandez une nouvelle invitation à la personne qui vous a invité·e.")
        if kind == tokens.INVITATION
        else _("Demandez un nouveau lien depuis la page « Mot de passe oublié ».")
    )
    log.warning("account link refused", extra={"purpose": kind, "reason": reason})
    return render_template(
        "accounts/link_refused.html", message=messages[reason], follow_up=follow_up, kind=kind
    ), (404 if reason == "unknown" else 410)


@blueprint.route("/mot-de-passe/nouveau/<token>", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT, methods=["POST"])
def new_password(token: str):
    db = get_session()
    try:
        item = tokens.find_token(db, token, tokens.PASSWORD_RESET)
    except tokens.TokenProblem as problem:
        return _token_refused(tokens.PASSWORD_RESET, problem.reason)
    form = NewPasswordForm()
    if request.method == "POST" and form.validate_on_submit():
        problem = passwords.password_problem(form.password.data, email=item.email)
        if problem is None:
            tokens.reset_password(db, item, form.password.data, ip_address=request.remote_addr)
            db.commit()
            flash(_("Votre mot de passe a été changé. Vous pouvez vous connecter."), "success")
            return redirect(url_for(".sign_in_page"))
        form.password.errors = [*form.password.errors, problem]
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/new_password.html", form=form, email=item.email), status


@blueprint.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit(INVITATION_LIMIT, methods=["POST"])
def accept_invitation(token: str):
    db = get_session()
    try:
        item = tokens.find_token(db, token, tokens.INVITATION)
    except tokens.TokenProblem as problem:
        return _token_refused(tokens.INVITATION, problem.reason)
    existing = db.exec(select(Account).where(Account.email == item.email)).first()
    signed_in = current_account()
    context = {
        "invitation": item,
        "role": role_label(item.role or ""),
        "scope": scope_label(db, item.scope),
        "existing": existing,
        "signed_in": signed_in,
    }
    if existing is not None:
        # The person already has an account: they accept it while signed in as that account.
        if signed_in is None or signed_in.id != existing.id:
            return render_template("accounts/invitation_sign_in_first.html", **context)
        if request.method == "POST":
            if not FlaskForm().validate_on_submit():
                abort(400)
            tokens.accept_invitation(db, item, signed_in=existing, ip_address=request.remote_addr)
            db.commit()
            flash(_("Invitation acceptée : votre nouveau rôle est actif."), "success")
            return redirect(_space_of(item.role, item.scope))
        return render_template("accounts/invitation_existing.html", form=FlaskForm(), **context)
    form = AcceptInvitationForm()
    if request.method == "POST" and form.validate_on_submit():
        problem = passwords.password_problem(form.password.data, email=item.email)
        if problem is None:
            account = tokens.accept_invitation(
                db,
                item,
                signed_in=None,
                display_name=form.display_name.data,
                password=form.password.data,
                ip_address=request.remote_addr,
            )
            sign_in(account, method="password")
            record_sign_in(db, account, method="invitation", ip_address=request.remote_addr)
            db.commit()
            flash(_("Bienvenue ! Votre compte est créé et votre rôle est actif."), "success")
            return redirect(_space_of(item.role, item.scope))
        form.password.errors = [*form.password.errors, problem]
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/invitation.html", form=form, **context), status


def _space_of(role: str | None, scope: dict) -> str:
    """Where a role's work starts."""
    if role == Role.PLATFORM_ADMIN:
        return url_for("admin.home")
    if role == Role.REGION_ADMIN:
        return url_for("region_space.region", region_code=scope["region_code"])
    if role == Role.OPERATOR_ADMIN:
        return url_for("operator_space.operator", operator_id=int(scope["operator_id"]))
    return url_for("site.home")


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
    linking = session.get(_LINK_KEY)
    signed_in = current_account()
    if linking and signed_in is not None and signed_in.id == linking:
        try:
            account = link_professional(db, signed_in, professional, ip_address=request.remote_addr)
        except LinkRefused as error:
            db.rollback()
            return _psc_failed("already_linked", str(error))
    else:
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


@blueprint.get("/compte")
@login_required
def my_account():
    from portal.accounts.policy import memberships_of

    db = get_session()
    account = current_account()
    professional = current_professional()
    structures = []
    if professional is not None:
        structures = db.exec(
            select(Structure)
            .join(Activity, Activity.structure_id == Structure.id)
            .where(Activity.professional_id == professional.id)
            .order_by(Structure.name)
        ).all()
    roles = [
        (role_label(m.role), scope_label(db, m), _space_of(m.role, _scope_of(m)))
        for m in memberships_of(db, account)
    ]
    return render_template(
        "accounts/my_account.html",
        account=account,
        professional=professional,
        structures=structures,
        roles=roles,
        method=session.get("sign_in_method"),
        can_link=professional is None and psc_client.psc_client() is not None,
    )


def _scope_of(membership) -> dict:
    return {
        "region_code": membership.region_code,
        "operator_id": membership.operator_id,
        "structure_id": membership.structure_id,
    }


@blueprint.get("/compte/lier-psc")
@login_required
@limiter.limit(SIGN_IN_LIMIT)
def link_psc():
    """A staff account adds its Pro Santé Connect identity (then it may sign in with PSC)."""
    account = current_account()
    try:
        response = psc_client.start_sign_in(url_for(".psc_callback", _external=True))
    except psc_client.PscSignInError as error:
        return _psc_failed(error.reason, error.detail)
    session[_NEXT_KEY] = url_for(".my_account")
    session[_LINK_KEY] = account.id
    return response
