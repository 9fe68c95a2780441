"""A region's dashboard: its orders, mailboxes, programmes and the funnel to active mailboxes.

An order belongs to a region when the structure it is for is located there, when the
professional it is for works in a structure located there, or when one of the region's
programmes subsidises it. Mailboxes follow the same rule through their holder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from portal.accounts.models import Activity, Structure
from portal.catalogue.models import Department, Offer
from portal.observatory.indicators import median_duration
from portal.observatory.models import OfferViewCount
from portal.regions.models import SubsidyProgramme
from portal.subscriptions.models import (
    Mailbox,
    MailboxState,
    Order,
    OrderEvent,
    OrderLine,
    OrderState,
)

# States in the order a reader follows an order through them.
STATE_ORDER = [
    OrderState.SUBMITTED,
    OrderState.AWAITING_APPROVAL,
    OrderState.APPROVED,
    OrderState.REJECTED,
    OrderState.AWAITING_PAYMENT,
    OrderState.PAYMENT_PENDING,
    OrderState.PAID,
    OrderState.PROVISIONING,
    OrderState.NEEDS_ATTENTION,
    OrderState.ACTIVE,
    OrderState.SUSPENDED,
    OrderState.TERMINATING,
    OrderState.TERMINATED,
    OrderState.CANCELLED,
    OrderState.REFUNDED,
]


@dataclass(frozen=True)
class ProgrammeUse:
    programme: SubsidyProgramme
    offer_name: str

    @property
    def share(self) -> float | None:
        quota = self.programme.quota_mailboxes
        return None if not quota else self.programme.quota_used / quota


@dataclass(frozen=True)
class FunnelStep:
    key: str
    count: int


@dataclass(frozen=True)
class RegionDashboard:
    region_code: str
    orders_by_state: list[tuple[str, int]]
    orders_total: int
    mailboxes_by_type: list[tuple[str, int]]
    mailboxes_by_department: list[tuple[str, str, int]]  # code, name, count
    programmes: list[ProgrammeUse]
    median_time_to_active: dt.timedelta | None
    activations_measured: int
    funnel: list[FunnelStep]


def region_departments(session: Session, region_code: str) -> list[Department]:
    return list(
        session.exec(
            select(Department)
            .where(Department.region_code == region_code)
            .order_by(Department.code)
        ).all()
    )


def _structures_in(codes: list[str]):
    return select(Structure.id).where(Structure.department_code.in_(codes))


def _professionals_in(codes: list[str]):
    return (
        select(Activity.professional_id)
        .join(Structure, Structure.id == Activity.structure_id)
        .where(Structure.department_code.in_(codes))
    )


def _programmes_of(region_code: str):
    return select(SubsidyProgramme.id).where(SubsidyProgramme.region_code == region_code)


def region_order_filter(session: Session, region_code: str):
    codes = [d.code for d in region_departments(session, region_code)]
    return sa.or_(
        Order.structure_id.in_(_structures_in(codes)),
        Order.professional_id.in_(_professionals_in(codes)),
        Order.programme_id.in_(_programmes_of(region_code)),
    )


def region_mailbox_filter(session: Session, region_code: str):
    codes = [d.code for d in region_departments(session, region_code)]
    return sa.or_(
        Mailbox.structure_id.in_(_structures_in(codes)),
        sa.and_(
            Mailbox.structure_id.is_(None),
            Mailbox.professional_id.in_(_professionals_in(codes)),
        ),
    )


def region_dashboard(*, session: Session, region_code: str) -> RegionDashboard:
    in_region = region_order_filter(session, region_code)
    ordered = sa.and_(in_region, Order.state != OrderState.DRAFT)
    per_state = dict(
        session.execute(
            select(Order.state, sa.func.count(Order.id)).where(ordered).group_by(Order.state)
        ).all()
    )
    orders_by_state = [(state.value, per_state.get(state.value, 0)) for state in STATE_ORDER]

    mailbox_in_region = region_mailbox_filter(session, region_code)
    active = sa.and_(mailbox_in_region, Mailbox.state == MailboxState.ACTIVE)
    per_type = dict(
        session.execute(
            select(Mailbox.type, sa.func.count(Mailbox.id)).where(active).group_by(Mailbox.type)
        ).all()
    )
    mailboxes_by_type = [(code, per_type.get(code, 0)) for code in ("PER", "ORG", "APP", "CAB")]

    # A mailbox's département: its structure's, else its holder's first workplace.
    first_workplace = (
        select(
            Activity.professional_id.label("professional_id"),
            sa.func.min(Activity.structure_id).label("structure_id"),
        )
        .group_by(Activity.professional_id)
        .subquery("first_workplace")
    )
    workplace = aliased(Structure, name="workplace")
    own = aliased(Structure, name="own")
    department = sa.func.coalesce(own.department_code, workplace.department_code)
    per_department = dict(
        session.execute(
            select(department, sa.func.count(Mailbox.id))
            .select_from(Mailbox)
            .outerjoin(own, own.id == Mailbox.structure_id)
            .outerjoin(
                first_workplace, first_workplace.c.professional_id == Mailbox.professional_id
            )
            .outerjoin(workplace, workplace.id == first_workplace.c.structure_id)
            .where(active)
            .group_by(department)
        ).all()
    )
    departments = region_departments(session, region_code)
    mailboxes_by_department = [(d.code, d.name, per_department.get(d.code, 0)) for d in departments]

    programmes = session.exec(
        select(SubsidyProgramme, Offer.name)
        .join(Offer, Offer.id == SubsidyProgramme.offer_id)
        .where(SubsidyProgramme.region_code == region_code)
        .order_by(SubsidyProgramme.status, SubsidyProgramme.id)
    ).all()

    activated = (
        select(OrderEvent.order_id, sa.func.min(OrderEvent.created_at).label("activated_at"))
        .where(OrderEvent.to_state == OrderState.ACTIVE)
        .group_by(OrderEvent.order_id)
        .subquery("activated")
    )
    durations = []
    for submitted, activated_at in session.execute(
        select(sa.func.coalesce(Order.submitted_at, Order.created_at), activated.c.activated_at)
        .join(activated, activated.c.order_id == Order.id)
        .where(in_region)
    ):
        submitted = submitted if submitted.tzinfo else submitted.replace(tzinfo=dt.UTC)
        activated_at = activated_at if activated_at.tzinfo else activated_at.replace(tzinfo=dt.UTC)
        durations.append(max(activated_at - submitted, dt.timedelta(0)))

    funded_offers = select(SubsidyProgramme.offer_id).where(
        SubsidyProgramme.region_code == region_code
    )
    views = session.execute(
        select(sa.func.coalesce(sa.func.sum(OfferViewCount.views), 0)).where(
            OfferViewCount.offer_id.in_(funded_offers)
        )
    ).scalar_one()
    orders_total = sum(per_state.values())
    requested = session.execute(
        select(sa.func.count(OrderLine.id))
        .join(Order, Order.id == OrderLine.order_id)
        .where(ordered)
    ).scalar_one()
    funnel = [
        FunnelStep("views", int(views)),
        FunnelStep("orders", orders_total),
        FunnelStep("requested_mailboxes", requested),
        FunnelStep("active_mailboxes", sum(per_type.values())),
    ]
    return RegionDashboard(
        region_code=region_code,
        orders_by_state=orders_by_state,
        orders_total=orders_total,
        mailboxes_by_type=mailboxes_by_type,
        mailboxes_by_department=mailboxes_by_department,
        programmes=[ProgrammeUse(p, name) for p, name in programmes],
        median_time_to_active=median_duration(durations),
        activations_measured=len(durations),
        funnel=funnel,
    )
