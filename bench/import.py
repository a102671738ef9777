"""Import speed and memory: the 576 Datan deputies with their Bluesky and Mastodon files, and a
generated 50,000-row CSV in the Porte-voix layout, against a baseline measured in the same run.

    .venv/bin/python bench/import.py [--rows 50000] [--postgres]

Each case runs in a fresh process (so its peak resident memory is its own) on a fresh SQLite file;
with --postgres, again on a PostgreSQL database of the run's own, dropped after. The baseline is the
same process reading the same file with `csv.reader` / `json.loads` and nothing else: the ratio says
what the checks, the normalisation and the writes cost on top of reading the bytes. "Memory" is the
peak RSS of the case's process minus that of a process that only built the app (and read the file).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GROUPS = ["RN", "EPR", "LFI-NFP", "SOC", "DR", "ECOS", "DEM", "HOR", "LIOT", "GDR", "UDR", "NI"]
FIRST = ["Anne", "Élodie", "Jean-Marc", "Zoé", "Hervé", "Lucie", "Noël", "Maëlle", "Yves", "Inès"]
LAST = ["Martin", "Durand", "Lefèvre", "Moreau", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau"]


def generate_csv(path: Path, rows: int) -> None:
    """A 50,000-row file as organisers bring them: mixed handle forms, some blanks, semicolons, a BOM."""
    rng = random.Random(7)
    lines = [
        "external_id;role;first_name;last_name;gender;group;constituency;department;committees;x;bluesky;mastodon;email"
    ]
    for n in range(rows):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        x = rng.choice([f"@user{n}", f"https://x.com/user{n}", f"user{n}", ""])
        bluesky = rng.choice([f"user{n}.bsky.social", "", ""])
        mastodon = rng.choice([f"@user{n}@piaille.fr", f"user{n}@mastodon.social", "", "", ""])
        department = f"{rng.randint(1, 95):02d}".replace("20", "2A")
        lines.append(
            f"C{n:06d};other;{first};{last};{rng.choice('FM')};{rng.choice(GROUPS)};Commune {n % 997};"
            f"{department};Finances|Culture;{x};{bluesky};{mastodon};elu{n}@commune-{n % 997}.fr"
        )
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_case(case: str, database: str, csv_path: str) -> dict[str, float]:
    """One measurement in this process: 'baseline-*' reads only; the others import (and commit)."""
    from accounts.services import get_or_create_organisation
    from app import create_app
    from extensions import db
    from recipients.importer import import_targets

    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "SECRET_KEY": "bench", "MAX_CONTENT_LENGTH": 50 << 20})
    files = {
        "deputies": [
            DATA / "fr/deputes-datan-2024-12-25.csv",
            DATA / "fr/deputes-bluesky.json",
            DATA / "fr/deputes-mastodon.json",
        ],
        "csv": [Path(csv_path)],
    }[case.removeprefix("baseline-")]
    blobs = [path.read_bytes() for path in files]
    with app.app_context():
        db.create_all()
        organisation_id = get_or_create_organisation("Bench").id
        db.session.commit()
        rss_before = _peak_mb()
        started = time.perf_counter()
        rows = 0
        if case.startswith("baseline-"):
            import csv
            import io

            for path, blob in zip(files, blobs, strict=True):
                text = blob.decode("utf-8-sig")
                if path.suffix == ".json":
                    rows += len(json.loads(text))
                else:
                    rows += sum(
                        1 for _ in csv.reader(io.StringIO(text), delimiter=";" if case.endswith("csv") else ",")
                    )
        else:
            for path, blob in zip(files, blobs, strict=True):
                report = import_targets(organisation_id, blob, filename=path.name, max_bytes=50 << 20)
                assert report.ok, report.errors[:3]
                rows += report.rows
            db.session.commit()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": _peak_mb(), "before_mb": rss_before, "rows": rows}


def _child(case: str, database: str, csv_path: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", case, "--database", database, "--csv", csv_path],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL (127.0.0.1:5432)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one, args.database, args.csv)))
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        csv_path = tmp / "targets-50k.csv"
        generate_csv(csv_path, args.rows)
        print(f"{args.rows:,}-row CSV: {csv_path.stat().st_size / 1_048_576:.1f} MB; Python {sys.version.split()[0]}")
        print(f"{'case':<34}{'rows':>8}{'seconds':>9}{'× baseline':>12}{'peak MB':>9}{'over app MB':>13}")
        targets = [("SQLite", None)] + (
            [("PostgreSQL", f"bench_import_{uuid.uuid4().hex[:8]}")] if args.postgres else []
        )
        for label, pg_name in targets:
            for case in ("deputies", "csv"):
                if pg_name:
                    from sqlalchemy import create_engine, text

                    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
                    name = f"{pg_name}_{case}"
                    with admin.connect() as connection:
                        connection.execute(text(f'CREATE DATABASE "{name}"'))
                    database = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
                else:
                    database = f"sqlite:///{tmp / f'bench-{case}.db'}"
                try:
                    base = _child(f"baseline-{case}", f"sqlite:///{tmp / f'base-{case}.db'}", str(csv_path))
                    result = _child(case, database, str(csv_path))
                finally:
                    if pg_name:
                        admin.dispose()
                        with admin.connect() as connection:
                            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                        admin.dispose()
                title = f"{label}: " + (
                    "576 deputies + Bluesky + Mastodon" if case == "deputies" else f"{args.rows:,}-row CSV"
                )
                print(
                    f"{title:<34}{int(result['rows']):>8}{result['seconds']:>9.2f}"
                    f"{result['seconds'] / max(base['seconds'], 1e-9):>12.0f}"
                    f"{result['peak_mb']:>9.0f}{result['peak_mb'] - base['peak_mb']:>13.0f}"
                )
                baseline = f"{'  baseline (read only)':<34}{int(base['rows']):>8}{base['seconds']:>9.3f}"
                print(f"{baseline}{'':>12}{base['peak_mb']:>9.0f}")


if __name__ == "__main__":
    main()
