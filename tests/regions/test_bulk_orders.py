"""Bulk orders end to end: 300 pharmacies with 5 bad lines, the same file twice, the dashboard."""

from __future__ import annotations

import io

from bs4 import BeautifulSoup
from sqlmodel import func, select

from portal.accounts.models import Membership, Role, Structure
from portal.regions.models import SubsidyProgramme
from portal.subscriptions.models import Order, OrderLine
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer, make_operator

HEADER = "finess;siret;type;nom;departement;boites;responsable;email"
BAD = {
    17: "12345;;pharmacie;Pharmacie sans FINESS;29;officine;A;a@example.org",
    58: ";73282932000075;pharmacie;Pharmacie au SIRET faux;29;officine;A;a@example.org",
    99: "299000991;;boulangerie;Type inconnu;29;officine;A;a@example.org",
    150: "299000992;;pharmacie;Hors région;75;officine;A;a@example.org",
    230: "299000993;;pharmacie;Sans boîte;29;;A;a@example.org",
}


def pharmacies_file() -> bytes:
    lines = [HEADER]
    for n in range(300):
        number = n + 2  # the header is line 1
        lines.append(
            BAD.get(number)
            or f"29{n + 1:07d};;pharmacie;Pharmacie n°{n};29;officine|secretariat;Titulaire {n};p{n}@example.org"
        )
    return ("\n".join(lines) + "\n").encode("cp1252")


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf(page) -> str:
    return page.select_one("input[name=csrf_token]")["value"]


def figure(page, name) -> str:
    return page.select_one(f'[data-figure="{name}"]').get_text(strip=True).replace("\u202f", " ")


def upload(client, programme_id: int, content: bytes):
    page = soup(client.get("/espace-region/53/commandes-groupees"))
    return client.post(
        "/espace-region/53/commandes-groupees",
        data={
            "csrf_token": csrf(page),
            "programme_id": str(programme_id),
            "file": (io.BytesIO(content), "pharmacies.csv"),
        },
        content_type="multipart/form-data",
    )


def test_region_bulk_orders_300_pharmacies_once(client, db_session):
    operator = make_operator(db_session, mail_domains=["bzh.mssante.fr"])
    offer = make_offer(
        db_session, operator=operator, slug="offre-groupee", mailbox_types=["ORG"], price_cents=400
    )
    programme = SubsidyProgramme(
        slug="bzh-officines",
        region_code="53",
        offer_id=offer.id,
        name={"fr": "Officines bretonnes", "en": "Breton pharmacies"},
        rule="free",
        quota_mailboxes=1000,
        needs_approval=True,
        structure_types=["pharmacie"],
        status="published",
    )
    db_session.add(programme)
    admin = make_account(db_session)
    db_session.add(Membership(account_id=admin.id, role=Role.REGION_ADMIN, region_code="53"))
    db_session.commit()
    sign_in_client(client, admin)

    response = upload(client, programme.id, pharmacies_file())
    assert response.status_code == 302
    report = soup(client.get(response.location))
    assert figure(report, "lines") == "300"
    assert figure(report, "invalid") == "5"
    assert figure(report, "to-order") == "295"
    assert "À commander : 295 structures, 590 boîtes aux lettres" in report.get_text()
    assert sorted(
        int(tr["data-line"]) for tr in report.select("[data-testid=invalid-lines] tr[data-line]")
    ) == sorted(BAD)
    assert "Windows-1252" in report.get_text()
    assert db_session.exec(select(func.count(Order.id))).one() == 0  # nothing ordered yet

    form = report.select_one("form[action$='/commander']")
    response = client.post(form["action"], data={"csrf_token": csrf(report)})
    assert response.status_code == 302
    page = soup(client.get(response.location))
    assert "295 commandes créées pour 590 boîtes aux lettres" in page.get_text()
    orders = db_session.exec(select(Order).where(Order.programme_id == programme.id)).all()
    assert len(orders) == 295
    assert {o.state for o in orders} == {"provisioning"}
    assert db_session.exec(select(func.count(OrderLine.id))).one() == 590
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 590
    structure = db_session.exec(select(Structure).where(Structure.finess == "290000001")).one()
    assert structure.name == "Pharmacie n°0" and structure.type == "pharmacie"
    first = db_session.exec(
        select(OrderLine).where(OrderLine.address.like("officine.pharmacie-n0@%"))
    ).one()
    assert first.address == "officine.pharmacie-n0@bzh.mssante.fr"

    # The same file again: the report says everything is ordered, and ordering creates nothing.
    response = upload(client, programme.id, pharmacies_file())
    report = soup(client.get(response.location))
    assert figure(report, "already") == "295" and figure(report, "to-order") == "0"
    assert report.select_one("[data-testid=nothing-new]") is not None
    assert report.select_one("form[action$='/commander']") is None
    action = response.location + "/commander"
    client.post(action, data={"csrf_token": csrf(report)})
    assert db_session.exec(select(func.count(Order.id))).one() == 295
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 590

    dashboard = soup(client.get("/espace-region/53/tableau-de-bord"))
    assert figure(dashboard, "orders") == "295"
    states = {
        row.th.get_text(strip=True): row.td.get_text(strip=True)
        for row in dashboard.select('[data-chart="commandes-par-etat"] tbody tr')
    }
    assert states == {"Ouverture en cours": "295"}
    quota = [
        td.get_text(strip=True)
        for td in dashboard.select_one("[data-testid=quotas] tbody tr").select("td")
    ]
    assert quota[-3:] == ["590", "1\u202f000", "59 %"]


def test_a_quota_too_small_orders_nothing(client, db_session):
    offer = make_offer(db_session, operator=make_operator(db_session), mailbox_types=["ORG"])
    programme = SubsidyProgramme(
        slug="bzh-petit",
        region_code="53",
        offer_id=offer.id,
        name={"fr": "Petit", "en": "Small"},
        rule="free",
        quota_mailboxes=3,
        status="published",
    )
    db_session.add(programme)
    admin = make_account(db_session)
    db_session.add(Membership(account_id=admin.id, role=Role.REGION_ADMIN, region_code="53"))
    db_session.commit()
    sign_in_client(client, admin)
    content = "\n".join(
        [HEADER] + [f"29{n + 1:07d};;pharmacie;P{n};29;officine;A;a@example.org" for n in range(5)]
    ).encode()
    report_url = upload(client, programme.id, content).location
    report = soup(client.get(report_url))
    response = client.post(report_url + "/commander", data={"csrf_token": csrf(report)})
    page = soup(client.get(response.location))
    assert "rien n’a été commandé" in page.get_text()
    assert db_session.exec(select(func.count(Order.id))).one() == 0
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 0


def test_bad_files_are_explained_on_the_upload_page(client, db_session):
    offer = make_offer(db_session, operator=make_operator(db_session), mailbox_types=["ORG"])
    programme = SubsidyProgramme(
        slug="bzh-x",
        region_code="53",
        offer_id=offer.id,
        name={"fr": "X", "en": "X"},
        rule="free",
        status="published",
    )
    db_session.add(programme)
    admin = make_account(db_session)
    db_session.add(Membership(account_id=admin.id, role=Role.REGION_ADMIN, region_code="53"))
    db_session.commit()
    sign_in_client(client, admin)
    response = upload(client, programme.id, b"nom,departement\nX,29\n")
    assert response.status_code == 400
    assert "Colonnes manquantes" in soup(response).select_one("#file-messages").get_text()


def test_bulk_pages_are_refused_to_other_regions(client, db_session):
    other = make_account(db_session)
    db_session.add(Membership(account_id=other.id, role=Role.REGION_ADMIN, region_code="11"))
    db_session.commit()
    sign_in_client(client, other)
    for path in (
        "/espace-region/53/commandes-groupees",
        "/espace-region/53/commandes-groupees/modele.csv",
        "/espace-region/53/commandes-groupees/1",
        "/espace-region/53/commandes-groupees/1/rapport.csv",
    ):
        assert client.get(path).status_code == 403, path
    assert client.post("/espace-region/53/commandes-groupees/1/commander").status_code in (400, 403)


def test_ordering_runs_the_same_number_of_statements_for_20_or_120_lines(
    app, app_context, db_session, monkeypatch
):
    """No statement per line: a file six times longer is ordered with as many statements
    (lookups go by chunks of 500 values)."""
    import sqlalchemy as sa

    from portal.regions import bulk_orders
    from portal.regions.models import BulkUpload
    from portal.subscriptions.models import OrderEvent

    operator = make_operator(db_session, mail_domains=["lot.mssante.fr"])
    offer = make_offer(db_session, operator=operator, mailbox_types=["ORG"], price_cents=400)
    programme = SubsidyProgramme(
        slug="bzh-lot",
        region_code="53",
        offer_id=offer.id,
        name={"fr": "Lot", "en": "Batch"},
        rule="free",
        quota_mailboxes=1000,
        needs_approval=True,
        status="published",
    )
    db_session.add(programme)
    admin = make_account(db_session)
    db_session.flush()
    handed = []  # what is given to the queue
    monkeypatch.setattr(
        bulk_orders,
        "enqueue",
        lambda function, *args, **options: handed.append((function, args, options)),
    )

    def order(first: int, count: int) -> tuple[int, bulk_orders.BulkOrderResult]:
        rows = [
            f"29{n:07d};;pharmacie;Pharmacie {n};29;officine|secretariat;T {n};t{n}@example.org"
            for n in range(first, first + count)
        ]
        upload = BulkUpload(
            region_code="53",
            programme_id=programme.id,
            account_id=admin.id,
            filename=f"lot-{first}.csv",
            sha256=f"{first:064d}",
            content=("\n".join([HEADER, *rows]) + "\n").encode(),
        )
        db_session.add(upload)
        db_session.flush()
        statements = []

        def count_statement(_conn, _cursor, statement, *_args):
            statements.append(statement)

        engine = db_session.get_bind()
        sa.event.listen(engine, "before_cursor_execute", count_statement)
        try:
            result = bulk_orders.order_bulk(session=db_session, upload=upload, account=admin)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count_statement)
        return len(statements), result

    small, result = order(1, 20)
    assert (result.created, result.mailboxes) == (20, 40)
    large, result = order(1000, 120)
    assert (result.created, result.mailboxes) == (120, 240)
    assert large == small
    # Every order went the state machine's way, in its history.
    orders = db_session.exec(select(Order).where(Order.programme_id == programme.id)).all()
    assert len(orders) == 140 and {o.state for o in orders} == {"provisioning"}
    steps = db_session.exec(
        select(OrderEvent.to_state)
        .where(OrderEvent.order_id == orders[-1].id)
        .order_by(OrderEvent.id)
    ).all()
    assert steps == ["submitted", "awaiting_approval", "approved", "provisioning"]
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 280
    db_session.commit()
    # One job per file hands its orders to provisioning (recorded here, whichever queue runs).
    large_upload = db_session.exec(
        select(BulkUpload).where(BulkUpload.filename == "lot-1000.csv")
    ).one()
    assert [(function.__name__, options) for function, _args, options in handed] == [
        ("provision_bulk_orders", {"queue": "provisioning", "session": db_session})
    ] * 2
    handed.clear()
    bulk_orders.provision_bulk_orders(large_upload.id)
    assert len(handed) == 120
    assert {function.__name__ for function, _args, _options in handed} == {"provision_order"}
    assert {args[0] for _function, args, _options in handed} == {
        o.id for o in orders if o.quote["bulk_upload_id"] == large_upload.id
    }
