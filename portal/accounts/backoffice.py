"""Back-office pages of this domain: platform administration of accounts, roles and invitations
(/admin/), and the landing pages of region and operator staff (/espace-region/,
/espace-operateur/) showing their scope and its members. Every route declares its policy."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlmodel import Session, func, select
from wtforms.fields.choices import SelectChoice

from portal.accounts import tokens
from portal.accounts.forms import InvitationForm
from portal.accounts.models import Account, AccountToken, Membership, Role, Structure
from portal.accounts.policy import (
    allow,
    forget_memberships,
    operator_ids_for,
    region_codes_for,
)
from portal.accounts.roles import ROLE_SCOPES, role_label, scope_label
from portal.accounts.session import current_account
from portal.app import settings_of
from portal.audit import record_audit
from portal.catalogue.models import Department, Offer, Operator, Region
from portal.db import get_session, utcnow
from portal.i18n import current_language
from portal.regions.models import SubsidyProgramme
from portal.security import INVITATION_LIMIT, limiter

admin = Blueprint("admin", __name__, url_prefix="/admin")
region_space = Blueprint("region_space", __name__, url_prefix="/espace-region")
operator_space = Blueprint("operator_space", __name__, url_prefix="/espace-operateur")


def _members(session: Session, **scope: object) -> list[tuple[Account, Membership]]:
    query = select(Account, Membership).join(Membership, Membership.account_id == Account.id)
    for column, value in scope.items():
        query = query.where(getattr(Membership, column) == value)
    return list(session.exec(query.order_by(Account.display_name)).all())


# ---------------------------------------------------------------- platform administration


@admin.get("/")
@allow(Role.PLATFORM_ADMIN)
def home():
    db = get_session()
    pending = db.exec(
        select(func.count())
        .select_from(AccountToken)
        .where(
            AccountToken.purpose == tokens.INVITATION,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > utcnow(),
        )
    ).one()
    staff = db.exec(select(func.count(func.distinct(Membership.account_id)))).one()
    accounts = db.exec(select(func.count()).select_from(Account)).one()
    return render_template("admin/home.html", pending=pending, staff=staff, accounts=accounts)


@admin.get("/comptes")
@allow(Role.PLATFORM_ADMIN)
def accounts():
    db = get_session()
    query = request.args.get("q", "").strip()
    statement = select(Account).order_by(Account.display_name).limit(200)
    if query:
        pattern = f"%{query.lower()}%"
        statement = statement.where(
            func.lower(Account.display_name).like(pattern) | func.lower(Account.email).like(pattern)
        )
    rows = db.exec(statement).all()
    memberships: dict[int, list[Membership]] = {}
    for membership in db.exec(
        select(Membership).where(Membership.account_id.in_([a.id for a in rows]))
    ).all():
        memberships.setdefault(membership.account_id, []).append(membership)
    return render_template(
        "admin/accounts.html",
        accounts=rows,
        memberships=memberships,
        query=query,
        describe=lambda m: _describe(db, m),
    )


def _describe(session: Session, membership: Membership) -> str:
    scope = scope_label(session, membership)
    return f"{role_label(membership.role)} — {scope}" if scope else role_label(membership.role)


def _account_or_404(account_id: int) -> Account:
    account = get_session().get(Account, account_id)
    if account is None:
        abort(404)
    return account


@admin.get("/comptes/<int:account_id>")
@allow(Role.PLATFORM_ADMIN)
def account(account_id: int):
    db = get_session()
    target = _account_or_404(account_id)
    memberships = db.exec(select(Membership).where(Membership.account_id == target.id)).all()
    return render_template(
        "admin/account.html",
        target=target,
        memberships=[(m, _describe(db, m)) for m in memberships],
        form=FlaskForm(),
    )


@admin.post("/comptes/<int:account_id>/activation")
@allow(Role.PLATFORM_ADMIN)
def toggle_active(account_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    db = get_session()
    target = _account_or_404(account_id)
    actor = current_account()
    if target.id == actor.id:
        flash(_("Vous ne pouvez pas désactiver votre propre compte."), "error")
        return redirect(url_for(".account", account_id=target.id))
    target.is_active = not target.is_active
    record_audit(
        db,
        action="account_activated" if target.is_active else "account_deactivated",
        actor_account_id=actor.id,
        actor_label=actor.display_name,
        target_type="account",
        target_id=target.id,
        ip_address=request.remote_addr,
    )
    db.commit()
    flash(
        _("Le compte est réactivé.") if target.is_active else _("Le compte est désactivé."),
        "success",
    )
    return redirect(url_for(".account", account_id=target.id))


@admin.route("/comptes/<int:account_id>/roles/<int:membership_id>/retirer", methods=["GET", "POST"])
@allow(Role.PLATFORM_ADMIN)
def revoke_role(account_id: int, membership_id: int):
    db = get_session()
    target = _account_or_404(account_id)
    membership = db.get(Membership, membership_id)
    if membership is None or membership.account_id != target.id:
        abort(404)
    form = FlaskForm()
    actor = current_account()
    last_admin = (
        membership.role == Role.PLATFORM_ADMIN
        and db.exec(
            select(func.count())
            .select_from(Membership)
            .where(Membership.role == Role.PLATFORM_ADMIN)
        ).one()
        <= 1
    )
    if request.method == "POST" and form.validate_on_submit() and not last_admin:
        tokens.revoke(db, membership, actor=actor, ip_address=request.remote_addr)
        db.commit()
        forget_memberships()
        flash(_("Le rôle a été retiré."), "success")
        return redirect(url_for(".account", account_id=target.id))
    return render_template(
        "admin/confirm_revoke.html",
        target=target,
        description=_describe(db, membership),
        form=form,
        last_admin=last_admin,
    ), (400 if request.method == "POST" else 200)


def _fill_scope_choices(form: InvitationForm, session: Session) -> None:
    blank = [SelectChoice("", _("— Choisir —"))]
    form.region_code.choices = blank + [
        SelectChoice(r.code, r.name)
        for r in session.exec(select(Region).order_by(Region.name)).all()
    ]
    form.operator_id.choices = blank + [
        SelectChoice(str(o.id), o.name)
        for o in session.exec(select(Operator).order_by(Operator.name)).all()
    ]
    form.structure_id.choices = blank + [
        SelectChoice(str(s.id), f"{s.name} ({s.finess or s.siret})")
        for s in session.exec(select(Structure).order_by(Structure.name).limit(500)).all()
    ]


@admin.route("/invitations", methods=["GET", "POST"])
@allow(Role.PLATFORM_ADMIN)
@limiter.limit(INVITATION_LIMIT, methods=["POST"])
def invitations():
    db = get_session()
    form = InvitationForm()
    _fill_scope_choices(form, db)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit() and not form.scope_errors():
            scope_key = ROLE_SCOPES[Role(form.role.data)]
            scope = {scope_key: getattr(form, scope_key).data} if scope_key else {}
            tokens.invite(
                db,
                email=form.email.data,
                role=form.role.data,
                scope=scope,
                invited_by=current_account(),
                locale=current_language(),
                public_url=settings_of(current_app).public_url,
                ip_address=request.remote_addr,
            )
            db.commit()
            flash(
                _("Invitation envoyée à %(email)s.", email=form.email.data.strip().lower()),
                "success",
            )
            return redirect(url_for(".invitations"))
        status = 400
    pending = db.exec(
        select(AccountToken)
        .where(AccountToken.purpose == tokens.INVITATION)
        .order_by(AccountToken.created_at.desc())
        .limit(100)
    ).all()
    now = utcnow()
    rows = [
        (
            item,
            role_label(item.role or ""),
            scope_label(db, item.scope),
            "used" if item.used_at else ("expired" if item.expires_at <= now else "pending"),
        )
        for item in pending
    ]
    return render_template("admin/invitations.html", form=form, rows=rows), status


@admin.route("/invitations/<int:invitation_id>/annuler", methods=["GET", "POST"])
@allow(Role.PLATFORM_ADMIN)
def cancel_invitation(invitation_id: int):
    db = get_session()
    item = db.get(AccountToken, invitation_id)
    if item is None or item.purpose != tokens.INVITATION:
        abort(404)
    form = FlaskForm()
    if item.used_at is None and request.method == "POST" and form.validate_on_submit():
        actor = current_account()
        item.used_at = utcnow()
        item.note = "cancelled"
        record_audit(
            db,
            action="invitation_cancelled",
            actor_account_id=actor.id,
            actor_label=actor.display_name,
            target_type="invitation",
            target_id=item.id,
            ip_address=request.remote_addr,
            details={"email": item.email},
        )
        db.commit()
        flash(
            _(
                "L’invitation de %(email)s est annulée : son lien ne fonctionne plus.",
                email=item.email,
            ),
            "success",
        )
        return redirect(url_for(".invitations"))
    return render_template(
        "admin/confirm_cancel_invitation.html",
        item=item,
        role=role_label(item.role or ""),
        scope=scope_label(db, item.scope),
        form=form,
    )


# ---------------------------------------------------------------- region and operator staff


def _in_scope(session: Session, model: type, key: Any, allowed: set | None) -> list:
    """The regions or operators (``model``, keyed by ``key``) a staff member administers, by
    name; ``allowed`` None (platform admins) means all of them."""
    statement = select(model).order_by(model.name)
    if allowed is not None:
        statement = statement.where(key.in_(allowed))
    return list(session.exec(statement).all())


# ---------------------------------------------------------------- region staff


@region_space.get("/")
@allow(Role.REGION_ADMIN)
def regions():
    db = get_session()
    codes = region_codes_for(db, current_account())
    rows = _in_scope(db, Region, Region.code, codes)
    if codes is not None and len(rows) == 1:
        return redirect(url_for(".region", region_code=rows[0].code))
    return render_template("accounts/staff/regions.html", regions=rows)


@region_space.get("/<region_code>/")
@allow(Role.REGION_ADMIN, region="region_code")
def region(region_code: str):
    db = get_session()
    territory = db.get(Region, region_code)
    if territory is None:
        abort(404)
    departments = db.exec(
        select(Department).where(Department.region_code == region_code).order_by(Department.code)
    ).all()
    structures = db.exec(
        select(func.count())
        .select_from(Structure)
        .where(Structure.department_code.in_([d.code for d in departments]))
    ).one()
    programmes = db.exec(
        select(SubsidyProgramme)
        .where(SubsidyProgramme.region_code == region_code)
        .order_by(SubsidyProgramme.slug)
    ).all()
    return render_template(
        "accounts/staff/region.html",
        territory=territory,
        departments=departments,
        structures=structures,
        programmes=programmes,
        members=_members(db, role=Role.REGION_ADMIN, region_code=region_code),
    )


# ---------------------------------------------------------------- operator staff


@operator_space.get("/")
@allow(Role.OPERATOR_ADMIN)
def operators():
    db = get_session()
    ids = operator_ids_for(db, current_account())
    rows = _in_scope(db, Operator, Operator.id, ids)
    if ids is not None and len(rows) == 1:
        return redirect(url_for(".operator", operator_id=rows[0].id))
    return render_template("accounts/staff/operators.html", operators=rows)


@operator_space.get("/<int:operator_id>/")
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def operator(operator_id: int):
    db = get_session()
    company = db.get(Operator, operator_id)
    if company is None:
        abort(404)
    offers = db.exec(
        select(Offer).where(Offer.operator_id == operator_id).order_by(Offer.name)
    ).all()
    return render_template(
        "accounts/staff/operator.html",
        company=company,
        offers=offers,
        members=_members(db, role=Role.OPERATOR_ADMIN, operator_id=operator_id),
    )
