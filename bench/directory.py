"""Directory benchmark: import throughput, peak memory and search latency, on PostgreSQL and SQLite.

    .venv/bin/python bench/directory.py [--lines 1000000] [--queries 1000]
        [--postgres postgresql://postgres@127.0.0.1:5432/bench_directory] [--no-postgres]
        [--no-sqlite] [--workdir /tmp/bench-directory]

It generates a synthetic extraction (French names with accents, the seven Ordre professions and
others, every département, ≈85 % PER / 15 % ORG, some addresses on two lines), then for each
database: migrates a fresh database, imports the file in a child process (rows/s and the child's
peak RSS), and times 1,000 mixed searches and 1,000 primary-key lookups in the same run. On
PostgreSQL it also times ``COPY`` of the same file into an unindexed table, the floor that the
import's rows/s are compared with. It never touches the test databases.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST_NAMES = [
    "Marie",
    "Jean",
    "Hélène",
    "Chloé",
    "Élodie",
    "François",
    "Jérôme",
    "Zoé",
    "Anaïs",
    "Noël",
    "Agnès",
    "Benoît",
    "Céline",
    "Cécile",
    "Frédéric",
    "Gaëlle",
    "Inès",
    "Joël",
    "Léa",
    "Léon",
    "Loïc",
    "Maël",
    "Mathéo",
    "Mélanie",
    "Ségolène",
    "Thérèse",
    "Aurélien",
    "Émilie",
    "Étienne",
    "Clément",
    "Pierre",
    "Paul",
    "Sophie",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Camille",
    "Lucas",
    "Hugo",
    "Louise",
    "Manon",
    "Emma",
    "Jules",
    "Arthur",
    "Raphaël",
    "Gabriel",
    "Adèle",
    "Alice",
    "Océane",
    "Maëlys",
    "Nicolas",
    "Julien",
    "Stéphane",
    "Sébastien",
    "Grégoire",
    "Amélie",
    "Laëtitia",
    "Bérénice",
    "Héloïse",
    "Françoise",
    "Geneviève",
]
LAST_ROOTS = [
    "Dupont",
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefebvre",
    "Mercier",
    "Dupuis",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Müller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Masson",
    "Sanchez",
    "Gérard",
    "Nguyen",
    "Boyer",
    "Denis",
    "Lemaire",
    "Duval",
    "Joly",
    "Gautier",
    "Roger",
    "Roche",
    "Roy",
    "Noël",
    "Meyer",
    "Lucas",
    "Meunier",
    "Jean",
    "Pérez",
    "Marchand",
    "Dufour",
    "Blanchard",
    "Marie",
    "Barbier",
    "Brun",
    "Dumas",
    "Brunet",
    "Schmitt",
    "Leroux",
    "Colin",
    "Fernandez",
    "Pierre",
    "Renard",
    "Arnaud",
    "Rolland",
    "Caron",
    "Aubert",
    "Giraud",
    "Leclerc",
    "Vidal",
    "Bourgeois",
    "Renaud",
    "Lemoine",
    "Picard",
    "Gaillard",
    "Philippe",
    "Leclercq",
    "Lacroix",
    "Fabre",
    "Dupuy",
    "Olivier",
    "Rodriguez",
    "Da",
    "Silva",
    "Hubert",
    "Louis",
    "Charles",
    "Guillot",
    "Rivière",
    "Le",
    "Gall",
    "Guillaume",
    "Adam",
    "Rey",
    "Moulin",
    "Gonzalez",
    "Berger",
    "Lecomte",
    "Ménard",
    "Fleury",
    "Deschamps",
    "Carpentier",
    "Julien",
    "Benoît",
    "Paris",
    "Maillard",
    "Marchal",
    "Aubry",
    "Vasseur",
    "Le",
    "Roux",
    "Renault",
    "Jacquet",
    "Collet",
    "Prévost",
    "Poirier",
    "Charpentier",
    "Royer",
    "Huet",
    "Baron",
    "Dupré",
    "Lebrun",
    "Lœuvre",
    "Bénard",
    "Hébert",
    "Ferré",
    "Pécresse",
    "Thiébaut",
    "Désiré",
    "Bérard",
]
SUFFIXES = ("", "", "", "", "-Martin", "-Durand", "-Lefèvre", "-Roux", "x", "eau", "ier", "on")
PROFESSIONS = [  # (code, label, weight)
    ("10", "Médecin", 34),
    ("21", "Pharmacien", 10),
    ("40", "Chirurgien-dentiste", 6),
    ("50", "Sage-femme", 3),
    ("60", "Infirmier", 25),
    ("70", "Masseur-kinésithérapeute", 12),
    ("80", "Pédicure-podologue", 2),
    ("91", "Orthophoniste", 3),
    ("92", "Orthoptiste", 1),
    ("94", "Ergothérapeute", 2),
    ("96", "Psychomotricien", 2),
]
SAVOIR_FAIRE = [
    ("SM26", "Qualifié en Médecine Générale"),
    ("SM04", "Cardiologie et maladies vasculaires"),
    ("SM54", "Pédiatrie"),
    ("SM19", "Gynécologie-obstétrique"),
    ("SM42", "Ophtalmologie"),
    ("", ""),
]
DEPARTMENTS = (
    [f"{n:02d}" for n in range(1, 20)]
    + ["2A", "2B"]
    + [f"{n:02d}" for n in range(21, 96)]
    + ["971", "972", "973", "974", "976"]
)
CITIES = [
    "Saint-Étienne",
    "Besançon",
    "Orléans",
    "Nîmes",
    "Angoulême",
    "Évreux",
    "Béziers",
    "Périgueux",
    "Mâcon",
    "Sète",
    "Châteauroux",
    "Troyes",
    "Rennes",
    "Lyon",
    "Marseille",
    "Toulouse",
    "Nantes",
    "Lille",
    "Brest",
    "Caen",
    "Ajaccio",
    "Bastia",
    "Pointe-à-Pitre",
    "Fort-de-France",
    "Cayenne",
    "Saint-Denis",
    "Mamoudzou",
    "Vénissieux",
    "Créteil",
    "Aubervilliers",
]
STREET_TYPES = ("RUE", "AV", "BD", "PL", "CHE", "ALL", "IMP")
STREETS = [
    "de la République Victor Hugo Jean Jaurès du Général de Gaulle Pasteur des Écoles de l'Église Gambetta Voltaire du Moulin de la Gare Émile Zola des Lilas"
]
DOMAINS_PER = (
    "medecin.mssante.fr",
    "pro.mssante.fr",
    "infirmier.mssante.fr",
    "pharmacien.mssante.fr",
    "ch-exemple.mssante.fr",
    "medimail.mssante.fr",
)
DOMAINS_ORG = (
    "cds.mssante.fr",
    "msp.mssante.fr",
    "officine.mssante.fr",
    "labo.mssante.fr",
    "ehpad.mssante.fr",
    "ght-exemple.mssante.fr",
)
STRUCTURE_KINDS = (
    "Maison de santé",
    "Centre de santé",
    "Pharmacie",
    "Laboratoire",
    "EHPAD",
    "Cabinet médical",
    "Centre hospitalier",
)
SERVICES = (
    "Accueil",
    "Secrétariat",
    "Cardiologie",
    "Urgences",
    "Officine",
    "Direction des soins",
    "",
)


def _postal_code(department: str, rng: random.Random) -> str:
    if department in ("2A", "2B"):
        return f"20{rng.randint(0, 2)}{rng.randint(0, 9)}0"
    if len(department) == 3:
        return f"{department}{rng.randint(0, 9)}{rng.randint(0, 9)}"
    return f"{department}{rng.randint(0, 9)}{rng.randint(0, 9)}0"


def _ascii(text: str) -> str:
    from portal.directory.indexing import fold

    return "".join(c if c.isalnum() else "-" for c in fold(text)).strip("-")


def generate(path: Path, lines: int, seed: int = 20261125) -> dict[str, list]:
    """Write the synthetic extraction; return samples used to build realistic queries."""
    from portal.directory.extraction import HEADER_LINE, format_line

    rng = random.Random(seed)
    weights = [weight for _, _, weight in PROFESSIONS]
    samples: dict[str, list] = {"names": [], "rpps": [], "finess": [], "addresses": []}
    rpps = 10_000_000_000
    structure_seq = 0
    written = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(HEADER_LINE + "\n")
        while written < lines:
            department = rng.choice(DEPARTMENTS)
            postal_code = _postal_code(department, rng)
            city = rng.choice(CITIES)
            place = {
                "address_l4_number": str(rng.randint(1, 250)),
                "address_l4_street_type": rng.choice(STREET_TYPES),
                "address_l4_street": rng.choice(STREETS).strip(),
                "address_l6": f"{postal_code} {city.upper()}",
                "postal_code": postal_code,
                "department": department,
                "country": "France",
            }
            if rng.random() < 0.85:  # a professional, with one or two addresses
                rpps += rng.randint(1, 7)
                first = rng.choice(FIRST_NAMES)
                last = rng.choice(LAST_ROOTS) + rng.choice(SUFFIXES)
                code, label, _ = rng.choices(PROFESSIONS, weights)[0]
                savoir = rng.choice(SAVOIR_FAIRE) if code == "10" else ("", "")
                person = {
                    "pp_id_type": "8",
                    "pp_id": str(rpps),
                    "idnps": f"8{rpps}",
                    "civility": rng.choice(("M", "MME", "DR")),
                    "last_name": last.upper() if rng.random() < 0.3 else last,
                    "first_name": first,
                    "category_code": "C",
                    "category_label": "Civil",
                    "profession_code": code,
                    "profession_label": label,
                    "savoir_faire_code": savoir[0],
                    "savoir_faire_label": savoir[1],
                    "dematerialisation": rng.choice(("O", "N")),
                    **place,
                }
                for copy in range(1 if rng.random() < 0.8 else 2):
                    local = f"{_ascii(first)}.{_ascii(last)}{'' if copy == 0 else '.' + str(copy)}.{rpps % 1000}"
                    address = f"{local}@{rng.choice(DOMAINS_PER)}"
                    out.write(
                        format_line({"mailbox_type": "PER", "address": address, **person}) + "\n"
                    )
                    written += 1
                    if rng.random() < 0.0003 and written < lines:  # the same address on two lines
                        out.write(
                            format_line({"mailbox_type": "PER", "address": address, **person})
                            + "\n"
                        )
                        written += 1
                if len(samples["names"]) < 5000:
                    samples["names"].append((first, last))
                    samples["rpps"].append(str(rpps))
                    samples["addresses"].append(address)
            else:  # an organisation mailbox
                structure_seq += 1
                finess = f"{department[:2]}{structure_seq:07d}"  # 2A/2B stay, 971 gives 97
                kind = rng.choice(STRUCTURE_KINDS)
                name = f"{kind} {rng.choice(LAST_ROOTS)} {city}"
                service = rng.choice(SERVICES)
                values = {
                    "mailbox_type": "ORG",
                    "address": f"{_ascii(service or 'contact')}.{structure_seq}@{rng.choice(DOMAINS_ORG)}",
                    "structure_id_type": "1",
                    "structure_id": finess,
                    "service": service,
                    "structure_name": name,
                    **place,
                }
                out.write(format_line(values) + "\n")
                written += 1
                if len(samples["finess"]) < 2000:
                    samples["finess"].append((finess, name))
    return samples


QUERY_KINDS = (
    "last first",
    "last first",
    "first last (lower case)",
    "prefixes",
    "one typo",
    "RPPS",
    "FINESS",
    "address fragment",
    "structure name",
    "last name",
)


def queries(samples: dict[str, list], count: int, seed: int = 7) -> list[dict[str, str]]:
    """A mix of what people type: full names either way round, prefixes, typos, identifiers,
    address fragments, structure names, with a filter now and then."""
    rng = random.Random(seed)
    mixed: list[dict[str, str]] = []
    for n in range(count):
        kind = n % 10
        first, last = rng.choice(samples["names"])
        if kind in (0, 1):
            q = f"{last} {first}"
        elif kind == 2:
            q = f"{first.lower()} {last.lower()}"
        elif kind == 3:
            q = f"{last[:4]} {first[:3]}"
        elif kind == 4:  # one typo: swap two middle letters
            word = last.split("-")[0]
            i = max(1, len(word) // 2)
            q = word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :] if len(word) > 3 else word
        elif kind == 5:
            q = rng.choice(samples["rpps"])
        elif kind == 6:
            q = rng.choice(samples["finess"])[0]
        elif kind == 7:
            q = rng.choice(samples["addresses"]).split("@")[0][:12]
        elif kind == 8:
            q = " ".join(rng.choice(samples["finess"])[1].split()[:2])
        else:
            q = last
        query = {"kind": QUERY_KINDS[kind], "q": q}
        if rng.random() < 0.2:
            query["place"] = rng.choice(DEPARTMENTS)
        if rng.random() < 0.1:
            query["profession"] = rng.choice(("10", "60", "70"))
        mixed.append(query)
    return mixed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def fresh_postgres(url: str, *, keep: bool = False) -> str:
    import sqlalchemy as sa

    from portal.config import Settings

    url = Settings(database_url="sqlite://").with_overrides(database_url=url).database_url
    server = sa.engine.make_url(url)
    name = server.database
    if name in ("test", "postgres") or name.startswith("test_"):
        raise SystemExit(f"Refusing to benchmark in the database {name!r}: use bench_directory.")
    if keep:
        return url
    engine = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return url


def run_import_child(url: str, path: Path) -> dict:
    """Import in a child process so that its peak RSS is the import's alone."""
    output = subprocess.run(
        [sys.executable, __file__, "_import", url, str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def _import_in_this_process(url: str, path: str) -> None:
    from portal.db import create_engine
    from portal.directory.importer import import_extraction

    engine = create_engine(url)
    started = time.perf_counter()
    report = import_extraction(engine, Path(path), max_rejected_ratio=0.01)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Validation worker processes (PostgreSQL imports of large files) have their own memory.
    worker_peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "lines": report.lines_read,
                "loaded": report.entries_loaded,
                "rejected": report.rejected_count,
                "duplicate_lines": report.duplicate_lines,
                "peak_mb": peak_kb / 1024,
                "worker_peak_mb": worker_peak_kb / 1024,
                "phases": report.seconds,
            }
        )
    )


def copy_baseline(url: str, path: Path) -> tuple[float, dict[str, float]]:
    """Seconds to COPY the same file into an unindexed table of 31 text columns; then, on that
    table, the seconds to build the least any searchable directory needs (the floor of an
    import that validated nothing): a unique index on the address, and a full-text index of
    whole words of the names (no word beginnings, no typo neighbours, no filters)."""
    import psycopg

    from portal.directory.extraction import FIELDS

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    floor: dict[str, float] = {}
    with psycopg.connect(dsn) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_copy")
        connection.execute(f"CREATE TABLE bench_copy ({', '.join(f + ' text' for f in FIELDS)})")
        connection.commit()
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY bench_copy FROM STDIN WITH (FORMAT csv, DELIMITER '|', QUOTE E'\\x01', HEADER true)"
            ) as copy,
            path.open("rb") as source,
        ):
            while block := source.read(1 << 20):
                copy.write(block)
        connection.commit()
        seconds = time.perf_counter() - started
        connection.execute("SET maintenance_work_mem = '512MB'")  # as the import sets it
        for name, statement in (
            ("unique address index", "CREATE UNIQUE INDEX ON bench_copy (address)"),
            (
                "whole-word name index",
                "CREATE INDEX ON bench_copy USING gin (to_tsvector('simple', "
                "coalesce(last_name, '') || ' ' || coalesce(first_name, '') || ' ' || "
                "coalesce(structure_name, '')))",
            ),
        ):
            started = time.perf_counter()
            try:
                connection.execute(statement)
            except psycopg.errors.UniqueViolation:
                connection.rollback()  # addresses on two lines: the same index, not unique
                connection.execute("SET maintenance_work_mem = '512MB'")
                connection.execute(statement.replace("UNIQUE ", ""))
            connection.commit()
            floor[name] = time.perf_counter() - started
        connection.execute("DROP TABLE bench_copy")
        connection.commit()
    return seconds, floor


def validation_seconds(path: Path) -> float:
    """CPU seconds, in this process, to read the file and check every line as the import does
    (the fast path of ``extraction.clean_line``; lines it leaves to the full parser are few)."""
    from portal.directory.extraction import clean_line, read_header

    started = time.process_time()
    with path.open(encoding="utf-8") as source:
        layout = read_header(next(source))
        for line in source:
            clean_line(line.rstrip("\n"), layout)
    return time.process_time() - started


def time_searches(url: str, mixed: list[dict[str, str]]) -> dict[str, float]:
    from sqlmodel import Session, select

    from portal.db import create_engine
    from portal.directory.models import DirectoryEntry
    from portal.directory.search import search_directory

    engine = create_engine(url)
    with Session(engine) as session:
        max_id = session.exec(select(DirectoryEntry.id).order_by(DirectoryEntry.id.desc())).first()
        for query in mixed[:20]:  # warm the caches like a running server
            search_directory(session, _filters(query))
        search_ms, hits = [], 0
        by_kind: dict[str, list[float]] = {}
        for query in mixed:
            started = time.perf_counter()
            page = search_directory(session, _filters(query))
            elapsed = (time.perf_counter() - started) * 1000
            search_ms.append(elapsed)
            label = query["kind"] + (" + filter" if len(query) > 2 else "")
            by_kind.setdefault(label, []).append(elapsed)
            hits += page.total > 0
        rng = random.Random(3)
        lookup_ms = []
        for _ in range(len(mixed)):
            wanted = rng.randint(1, max_id)
            started = time.perf_counter()
            session.exec(select(DirectoryEntry).where(DirectoryEntry.id == wanted)).first()
            lookup_ms.append((time.perf_counter() - started) * 1000)
            session.expunge_all()
    engine.dispose()
    return {
        "search_p50": percentile(search_ms, 0.5),
        "search_p95": percentile(search_ms, 0.95),
        "search_max": max(search_ms),
        "queries_with_results": hits,
        "pk_p50": percentile(lookup_ms, 0.5),
        "pk_p95": percentile(lookup_ms, 0.95),
        "by_kind": {
            kind: (len(values), percentile(values, 0.5), percentile(values, 0.95))
            for kind, values in sorted(by_kind.items())
        },
    }


def _filters(query: dict[str, str]):
    from portal.directory.search import SearchFilters

    return SearchFilters(**{key: value for key, value in query.items() if key != "kind"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/bench_directory"
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-directory"))
    parser.add_argument(
        "--search-only",
        action="store_true",
        help="time searches on the databases a previous run imported (after migrating them)",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    source = args.workdir / f"extraction-{args.lines}.txt"
    if args.search_only:  # the same lines again, only for their query samples
        source = args.workdir / f"queries-only-{args.lines}.txt"
    started = time.perf_counter()
    samples = generate(source, args.lines)
    print(
        f"Generated {args.lines:,} lines ({source.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - started:.1f} s: {source}"
    )
    mixed = queries(samples, args.queries)

    if not args.no_postgres and args.search_only:
        url = fresh_postgres(args.postgres, keep=True)
        migrate(url)
        print("\nPostgreSQL (searches only, on the previous import)")
        _print_search(time_searches(url, mixed), args.queries)
    elif not args.no_postgres:
        url = fresh_postgres(args.postgres)
        migrate(url)
        copy_seconds, floor = copy_baseline(url, source)
        result = run_import_child(url, source)
        import_rate = result["lines"] / result["seconds"]
        copy_rate = args.lines / copy_seconds
        print("\nPostgreSQL")
        print(f"  COPY into an unindexed table: {copy_seconds:.1f} s, {copy_rate:,.0f} rows/s")
        checking = validation_seconds(source)
        cores = os.cpu_count() or 1
        print(
            f"  checking every line in Python, without the database: {checking:.1f} s of CPU, "
            f"{checking / cores:.1f} s at best on {cores} CPUs"
        )
        floor_seconds = copy_seconds + sum(floor.values())
        print(
            f"  floor of any searchable import (COPY, then {', '.join(floor)}): "
            f"{' + '.join(f'{value:.1f}' for value in (copy_seconds, *floor.values()))} = "
            f"{floor_seconds:.1f} s, ratio to COPY {copy_seconds / floor_seconds:.2f}"
        )
        print(
            f"  import: {result['seconds']:.1f} s, {import_rate:,.0f} rows/s, "
            f"ratio to COPY {import_rate / copy_rate:.2f} (target ≥ 0.5); "
            f"{result['loaded']:,} entries, {result['rejected']} rejected, "
            f"{result['duplicate_lines']} duplicate lines merged"
        )
        print(f"  import peak memory (child RSS): {result['peak_mb']:.0f} MB (target ≤ 300 MB)")
        if result.get("worker_peak_mb"):
            print(
                f"  largest validation worker's peak RSS: {result['worker_peak_mb']:.0f} MB "
                "(each worker, beside the importing process)"
            )
        print(f"  import phases: {_phases(result)}")
        _print_search(time_searches(url, mixed), args.queries)

    if not args.no_sqlite and args.search_only:
        url = f"sqlite:///{args.workdir / 'bench_directory.sqlite3'}"
        migrate(url)
        print("\nSQLite (searches only, on the previous import)")
        _print_search(time_searches(url, mixed), args.queries)
    elif not args.no_sqlite:
        path = args.workdir / "bench_directory.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        migrate(url)
        result = run_import_child(url, source)
        print("\nSQLite")
        print(
            f"  import: {result['seconds']:.1f} s, {result['lines'] / result['seconds']:,.0f} rows/s; "
            f"{result['loaded']:,} entries"
        )
        print(f"  import peak memory (child RSS): {result['peak_mb']:.0f} MB (target ≤ 300 MB)")
        print(f"  import phases: {_phases(result)}")
        _print_search(time_searches(url, mixed), args.queries)


def _phases(result: dict) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result["phases"].items())


def _print_search(figures: dict[str, float], count: int) -> None:
    print(
        f"  search over {count} mixed queries: p50 {figures['search_p50']:.2f} ms, "
        f"p95 {figures['search_p95']:.2f} ms (target ≤ 20 ms), max {figures['search_max']:.1f} ms; "
        f"{figures['queries_with_results']} with results"
    )
    print(
        f"  primary-key lookup: p50 {figures['pk_p50']:.3f} ms, p95 {figures['pk_p95']:.3f} ms; "
        f"search/lookup ratio p50 {figures['search_p50'] / figures['pk_p50']:.0f}×, "
        f"p95 {figures['search_p95'] / figures['pk_p95']:.0f}×"
    )
    for kind, (count_, p50, p95) in figures["by_kind"].items():
        print(f"    {kind:<34} {count_:>4} queries  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "_import":
        _import_in_this_process(sys.argv[2], sys.argv[3])
    else:
        main()
