"""Benchmark the staff pages' server time with 10 000 employees and 40 000 interviews in PostgreSQL.

A throwaway PostgreSQL database (127.0.0.1:5432, as the tests use; PARCOURS_TEST_POSTGRES_URL otherwise) holds
first the 25 sample employees (the baseline), then 10 000 employees under 100 managers with 40 000 recorded
interviews and a few hundred documents and signature requests. Each page is asked through the WSGI application
in this process (no network: server time), signed in as a person with every role; the median of --runs answers
is printed for both sizes with the ratio, and the first answer at full size (cold: the due list over everyone
is computed once, then kept until an employee or an interview changes). Target: every median under 200 ms.

    .venv/bin/python benchmarks/bench_pages.py [--employees 10000] [--interviews 40000] [--runs 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TARGET_MS = 200.0
PASSWORD = "une phrase de passe solide"
PAGES = ["/tableau-de-bord", "/echeances?avant=2027-01-31", "/salaries", "/salaries?q=mart",
         "/salaries?service=Logistique", "/salaries/{employee}",
         "/echeances", "/echeances?retard=1&page=3", "/campagnes", "/entretiens", "/entretiens?statut=held",
         "/signatures", "/signatures?statut=completed", "/signatures/{request}", "/modeles", "/audit",
         "/administration", "/mes-entretiens", "/campagnes/{campaign}", "/campagnes/{campaign}?statut=convoked",
         "/campagnes/nouvelle", "/entretiens/{interview}", "/entretiens/{interview}/compte-rendu"]


def populate(db, employees: int, interviews: int) -> None:
    """`employees` under 100 managers reporting to M0000; `interviews` spread over them; 300 documents, each
    with a completed signature request (rows only: the pages read rows, never the PDFs)."""
    from sqlalchemy import insert, select

    from docgen.dataset import Dataset, Employee
    from parcours.models import Document, Interview, SignatureRequest, Signer, Template, TemplateVersion
    from parcours.service.employees import upsert_dataset

    rng = random.Random(15)
    jobs = [("Technicien", "Maintenance"), ("Comptable", "Finance"), ("Préparateur", "Logistique"),
            ("Commercial", "Ventes"), ("Développeuse", "Informatique"), ("Acheteur", "Achats")]
    names = ["Martin", "Bernard", "Moreau", "Laurent", "Fontaine", "N’Diaye", "Nguyễn", "Lefèvre", "Garcia", "Roux"]
    people = {"M0000": Employee("M0000", "Mme", "Fontaine", "Camille", "camille@example.fr", dt.date(1970, 1, 1),
                                dt.date(2000, 1, 1), "Directrice", "Direction", "Lyon", None, None)}
    for i in range(1, employees):
        job, service = rng.choice(jobs)
        hired = dt.date(1995, 1, 1) + dt.timedelta(days=rng.randrange(11000))
        last = hired + dt.timedelta(days=rng.randrange(1, max(2, (dt.date.today() - hired).days)))
        manager = "M0000" if i <= 100 else f"S{rng.randint(1, 100):05d}"
        people[f"S{i:05d}"] = Employee(
            f"S{i:05d}", rng.choice(["M.", "Mme"]), rng.choice(names), rng.choice(["Léa", "Hugo", "Inès", "Noé"]),
            f"s{i}@example.fr", dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(14000)),
            hired, job, service, rng.choice(["Lyon", "Villeurbanne", "Paris"]), manager,
            last if rng.random() < 0.7 else None)
    matricules = sorted(people)
    with db.session() as session:
        upsert_dataset(session, Dataset(employees=people, absences={}, trainings={}))
    with db.session() as session:
        rows = []
        for _ in range(interviews):  # each after the employee's hiring, before today
            matricule = rng.choice(matricules)
            hired = people[matricule].date_entree
            rows.append({"matricule": matricule, "type": "periodique", "created_by": "bench", "note": "bench",
                         "status": rng.choice(["held", "held", "held", "refused"]),
                         "date": hired + dt.timedelta(days=rng.randrange(1, max(2, (dt.date.today() - hired).days)))})
        session.execute(insert(Interview), rows)
        version = session.scalar(select(TemplateVersion.id).join(Template).where(Template.name == "compte_rendu"))
        for n in range(300):
            document = Document(matricule=matricules[n * 7 % len(matricules)], template_version_id=version,
                                created_by="bench")
            session.add(document)
            session.flush()
            request = SignatureRequest(document_id=document.id, status=rng.choice(["pending", "completed"]),
                                       prepared_version=1, expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
                                       created_by="bench")
            session.add(request)
            session.flush()
            for position, role in ((1, "manager"), (2, "salarie")):
                session.add(Signer(request_id=request.id, position=position, role=role, title=role, name=f"{role} {n}",
                                   email=f"{role}{n}@example.fr", status="sent" if position == 1 else "waiting"))


def measure(client, paths: list[str], runs: int) -> tuple[dict[str, float], dict[str, float]]:
    """(median ms, first ms) per page; every answer must be 200."""
    times: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(runs + 1):  # page after page, round after round: as people browse, not one page in a loop
        for path in paths:
            start = time.perf_counter()
            response = client.get(path)
            times[path].append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                body = response.get_data(as_text=True)
                raise SystemExit(f"{path}: {response.status_code}\n{body[body.find('<main'):][:1500]}")
    return ({p: statistics.median(t[1:]) for p, t in times.items()}, {p: t[0] for p, t in times.items()})


def signed_in_client(app, matricule: str):
    from parcours.service import users
    from parcours.service.audit import Actor

    with app.extensions["parcours"].db.session() as session:
        user = users.create_user(session, email="bench@example.fr", name="Banc d’essai",
                                 roles=["hr", "auditor", "admin", "manager"], matricule=matricule,
                                 by=Actor("bench", "cli"))
        user.password_hash = users.hash_password(PASSWORD)
    client = app.test_client()
    response = client.post("/connexion", data={"email": "bench@example.fr", "password": PASSWORD},
                           headers={"Origin": "http://localhost"})
    assert response.status_code == 303, response.status_code
    return client


def app_on(url: str, folder: Path):
    from parcours.app import create_app
    from parcours.settings import Settings

    return create_app(Settings(instance_dir=folder, database_url=url, workers=0, pki_passphrase="bench"))


def main() -> None:
    import pytest  # postgres_database skips through pytest when no server answers
    from api_helpers import postgres_database
    from sqlalchemy import select

    from parcours.models import SignatureRequest
    from signing_flow import sample_dataset

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--interviews", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="parcours-bench-pages-"))
    results = {}
    for size in ("baseline", "full"):
        try:
            url, drop = postgres_database()
        except pytest.skip.Exception as exc:
            sys.exit(f"PostgreSQL is needed: {exc}")
        try:
            app = app_on(url, folder / size)
            db = app.extensions["parcours"].db
            if size == "baseline":
                from parcours.service.employees import upsert_dataset

                with db.session() as session:
                    upsert_dataset(session, sample_dataset())
                populate_small(db)
                employee, manager = "E0003", "E0005"
            else:
                started = time.perf_counter()
                populate(db, args.employees, args.interviews)
                print(f"Données : {args.employees} salariés, {args.interviews} entretiens, 300 demandes de signature "
                      f"({time.perf_counter() - started:.1f} s)")
                employee, manager = "S04242", "S00001"
            with db.session() as session:
                request_id = session.scalar(select(SignatureRequest.id).limit(1))
            campaign_id, interview_id = add_campaign(db, 2_000 if size == "full" else 25)
            client = signed_in_client(app, manager)
            paths = [p.format(employee=employee, request=request_id, campaign=campaign_id, interview=interview_id)
                     for p in PAGES]
            results[size] = measure(client, paths, args.runs)
            app.extensions["parcours"].close()
        finally:
            drop()
    base, (full, cold) = results["baseline"][0], results["full"]
    print(f"\n{'page':34} {'25 salariés':>12} {args.employees:>7} sal. {'ratio':>6} {'1re fois':>9}")
    slow = []
    for (path, ms), (_, base_ms) in zip(full.items(), base.items()):
        print(f"{path[:34]:34} {base_ms:10.1f} ms {ms:9.1f} ms {ms / base_ms:6.1f} {cold[path]:7.0f} ms")
        if ms > TARGET_MS:
            slow.append(path)
    print(f"\nMédiane la plus lente : {max(full.values()):.1f} ms (objectif : < {TARGET_MS:.0f} ms par page)")
    if slow:
        sys.exit(f"Au-dessus de l'objectif : {', '.join(slow)}")


def add_campaign(db, size: int) -> tuple[int, int]:
    """A campaign holding the first `size` interviews, every other one still convoked: (campaign id, an
    interview's id)."""
    from sqlalchemy import select, update

    from parcours.models import Campaign, Employee, Interview

    with db.session() as session:
        campaign = Campaign(name="Campagne du banc d'essai", period_start=dt.date.today(),
                            period_end=dt.date.today() + dt.timedelta(days=90), reference_date=dt.date.today(),
                            population={}, settings={"values": {}, "templates": {}}, batch_ids=[], created_by="bench")
        session.add(campaign)
        session.flush()
        ids = list(session.scalars(select(Interview.id).order_by(Interview.id).limit(size)))
        if not ids:  # the baseline's sample data may hold none
            first = session.scalar(select(Employee.matricule).order_by(Employee.matricule).limit(1))
            interview = Interview(matricule=first, type="periodique", status="convoked", date=dt.date.today(),
                                  created_by="bench")
            session.add(interview)
            session.flush()
            ids = [interview.id]
        session.execute(update(Interview).where(Interview.id.in_(ids)).values(campaign_id=campaign.id))
        session.execute(update(Interview).where(Interview.id.in_(ids[::2])).values(status="convoked"))
        return campaign.id, ids[0]


def populate_small(db) -> None:
    """One document with a signature request for the baseline, so that every page has a row to show."""
    from sqlalchemy import select

    from parcours.models import Document, SignatureRequest, Signer, Template, TemplateVersion

    with db.session() as session:
        version = session.scalar(select(TemplateVersion.id).join(Template).where(Template.name == "compte_rendu"))
        document = Document(matricule="E0003", template_version_id=version, created_by="bench")
        session.add(document)
        session.flush()
        request = SignatureRequest(document_id=document.id, status="pending", prepared_version=1,
                                   expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), created_by="bench")
        session.add(request)
        session.flush()
        session.add(Signer(request_id=request.id, position=1, role="manager", title="Responsable", name="F. Rousseau",
                           email="f@example.fr", status="sent"))


if __name__ == "__main__":
    main()
