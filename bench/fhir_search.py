"""Time FHIR directory searches through the Flask test client on an already imported directory.

    .venv/bin/python bench/fhir_search.py --database postgresql://postgres@127.0.0.1:5432/bench_x
    .venv/bin/python bench/fhir_search.py --database sqlite:////tmp/bench/bench_directory.sqlite3

The database is only read. Each query runs ``--repeat`` times (the first run warms the cache);
the script prints the best and the last time of each query, the answer's ``total`` (or "-" when
the Bundle has none), the number of entries returned, and the median and maximum over all.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

# The portal of this checkout (a worktree, an older commit), not the one installed in the venv.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUERIES = [
    "Practitioner?mailbox-mss=sophie.huet",
    "Practitioner?mailbox-mss=joel.denis-durand.668@medecin.mssante.fr",
    "Practitioner?mailbox-mss=noel",
    "Practitioner?mailbox-mss=NOEL.RENAULT",
    "Practitioner?mailbox-mss=zzz",
    "Practitioner?mailbox-mss:exact=noel.renault.931@pharmacien.mssante.fr",
    "Practitioner?mailbox-mss:exact=nobody@pro.mssante.fr",
    "Practitioner?mailbox-mss:contains=huet-martin",
    "Practitioner?mailbox-mss:contains=renault.93",
    "Practitioner?mailbox-mss:contains=mssante",
    "Practitioner?mailbox-mss:contains=qqqq",
    "Organization?mailbox-mss=secretariat",
    "Organization?mailbox-mss:contains=pharmacie",
    "PractitionerRole?mailbox-mss=marie",
    "PractitionerRole?mailbox-mss:contains=dupont",
    "Practitioner?name=pharmacie",
    "Practitioner?name=pharmacie&_offset=200",
    "Practitioner?name=martin",
    "Practitioner?name=marie",
    "Practitioner?name=dupont marie",
    "Practitioner?name=J Dupont",
    "Practitioner?name=renaudier",
    "PractitionerRole?name=martin",
    "PractitionerRole?name=pharmacie",
    "Organization?name=pharmacie",
    "Organization?name=centre hospitalier",
    "Organization?name=martin",
    "Practitioner?name=martin&mailbox-mss-type=PER",
    "Practitioner?mailbox-mss-type=PER",
    "Organization?mailbox-mss-type=ORG",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    arguments = parser.parse_args()

    from portal.app import create_app
    from portal.config import Settings

    instance = Path(tempfile.mkdtemp(prefix="bench-fhir-"))
    settings = Settings(
        portal_env="test",
        database_url=arguments.database,
        redis_url=arguments.redis,
        instance_dir=instance,
    ).with_overrides(database_url=arguments.database)
    client = create_app(settings).test_client()
    lasts = []
    for query in QUERIES:
        times = []
        for _ in range(arguments.repeat):
            started = time.perf_counter()
            response = client.get(f"/fhir/{query}")
            times.append((time.perf_counter() - started) * 1000)
        body = response.get_json()
        lasts.append(times[-1])
        total = body.get("total", "-")
        entries = len(body.get("entry", []))
        print(
            f"{min(times):9.1f} {times[-1]:9.1f} ms  {response.status_code} "
            f"total={total!s:>7} entries={entries:3d}  {query}"
        )
    print(
        f"last runs: median {statistics.median(lasts):.1f} ms, max {max(lasts):.1f} ms "
        f"over {len(QUERIES)} queries"
    )


if __name__ == "__main__":
    main()
