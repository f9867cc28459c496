"""`parcours archive refresh` on a compte rendu really signed through the API: the archive timestamp is
renewed as a new version that pyHanko validates, recorded in the audit trail; a dry run and a run
with nothing due change nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from signing_flow import complete_request, fresh_app, real_compte_rendu, store_document, store_employees
from sqlalchemy import func, select

from docgen.formatting import date as french_date
from parcours.cli.archive import Window
from parcours.cli.archive import archive as archive_group
from parcours.models import AuditEvent, DocumentVersion
from parcours.service import pki as instance_pki
from parcours.service.tokens import create_token
from parcours.settings import Settings
from signing import archive, pades

PARIS = ZoneInfo("Europe/Paris")  # the settings' default time zone


@pytest.fixture(scope="module")
def compte_rendu(pool):
    return real_compte_rendu(pool)


@pytest.fixture
def instance(tmp_path):
    return tmp_path / "instance"


@pytest.fixture
def app(instance):
    # The instance's default SQLite database: the command finds it from PARCOURS_INSTANCE_DIR alone.
    with fresh_app(Settings(instance_dir=instance, run_jobs=False, workers=1)) as application:
        yield application


@pytest.fixture
def tokens(app):
    with app.extensions["parcours"].db.session() as session:
        return {role: create_token(session, role, f"test {role}")[0] for role in ("hr", "auditor")}


@pytest.fixture
def headers(tokens):
    return {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}


@pytest.fixture
def completed(app, tokens, headers, compte_rendu):
    """A compte rendu signed by the manager then the employee, sealed: (document id, request)."""
    store_employees(app)
    document_id = store_document(app, *compte_rendu)
    client = app.test_client()
    request_id, _ = complete_request(app, client, tokens["hr"], document_id)
    request = client.get(f"/api/v1/signature-requests/{request_id}", headers=headers["hr"]).json
    assert request["status"] == "completed"
    return document_id, request


def refresh(instance, *args):
    return CliRunner().invoke(archive_group, ["refresh", *args], env={"PARCOURS_INSTANCE_DIR": str(instance)})


def _versions(app, document_id):
    with app.extensions["parcours"].db.session() as session:
        return session.scalar(select(func.count()).select_from(DocumentVersion)
                              .where(DocumentVersion.document_id == document_id))


def _refreshed_events(app):
    with app.extensions["parcours"].db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == "archive.refreshed")))


@pytest.mark.libreoffice
def test_a_dry_run_lists_the_document_and_changes_nothing(app, instance, headers, completed):
    document_id, request = completed
    before = _versions(app, document_id)
    result = refresh(instance, "--within", "11y", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"Document n°\u00a0{document_id} (E0003, demande n°\u00a0{request['id']})" in result.stdout
    assert f"à renouveler (version {request['final_version']})" in result.stdout
    assert "1 document à renouveler sur 1 document signé vérifié" in result.stdout
    sealed = app.test_client().get(f"/api/v1/documents/{document_id}/versions/{request['final_version']}/pdf",
                                   headers=headers["hr"]).data
    expires = archive.latest_timestamp(sealed).expires.astimezone(PARIS).date()
    assert f"horodatage expirant le {french_date(expires)}, à renouveler" in result.stdout
    assert _versions(app, document_id) == before and not _refreshed_events(app)


@pytest.mark.libreoffice
def test_refresh_renews_the_archive_timestamp_as_a_new_valid_version(app, instance, headers, completed):
    document_id, request = completed
    client = app.test_client()
    sealed_number = request["final_version"]
    sealed = client.get(f"/api/v1/documents/{document_id}/versions/{sealed_number}/pdf", headers=headers["hr"]).data
    expiring = archive.latest_timestamp(sealed)

    result = refresh(instance, "--within", "11y")  # the instance's TSA certificate lasts 10 years

    assert result.exit_code == 0, result.output
    assert f"renouvelé\u00a0: version {sealed_number + 1}" in result.stdout
    assert "1 document renouvelé sur 1 document signé vérifié" in result.stdout
    assert "nouvel horodatage expire lui aussi" in result.stderr  # same TSA certificate: the warning says so
    state = client.get(f"/api/v1/signature-requests/{request['id']}", headers=headers["hr"]).json
    assert state["final_version"] == sealed_number + 1 and state["status"] == "completed"
    version = client.get(f"/api/v1/documents/{document_id}/versions", headers=headers["hr"]).json["items"][-1]
    assert (version["number"], version["kind"]) == (sealed_number + 1, "timestamped")
    renewed = client.get(version["links"]["pdf"], headers=headers["hr"]).data
    assert hashlib.sha256(renewed).hexdigest() == version["pdf_sha256"]
    assert renewed.startswith(sealed)  # an incremental update: the sealed bytes are untouched

    root = instance_pki.authority(app.extensions["parcours"].settings).root_certificate
    reports = pades.verify(renewed, [root])
    stamps = [r for r in reports if r.kind == "document_timestamp"]
    signatures = [r for r in reports if r.kind == "signature"]
    assert len(stamps) == 2 and {r.field for r in signatures} == {"signature_manager", "signature_salarie"}
    assert all(r.intact and r.valid and r.trusted and r.bottom_line for r in reports), [r.summary for r in reports]
    # The renewal only adds validation data and a timestamp: what each signature allows is unchanged.
    levels = lambda pdf: {r.field: r.modification_level for r in pades.verify(pdf, [root]) if r.kind == "signature"}  # noqa: E731
    assert levels(renewed) == levels(sealed) == {"signature_manager": "FORM_FILLING", "signature_salarie": "LTA_UPDATES"}
    latest = archive.latest_timestamp(renewed)
    assert latest.count == 2 and latest.time >= expiring.time and latest.field != expiring.field

    [event] = _refreshed_events(app)
    assert (event.subject_type, event.subject_id, event.actor) == ("signature_request", str(request["id"]), "system")
    assert event.data["document_id"] == document_id and event.data["version"] == sealed_number + 1
    assert event.data["previous_version"] == sealed_number and event.data["pdf_sha256"] == version["pdf_sha256"]
    assert dt.datetime.fromisoformat(event.data["expiring_not_after"]) == expiring.expires

    history = client.get(f"/api/v1/documents/{document_id}/history", headers=headers["auditor"]).json
    assert history["versions"][-1]["made_by"]["event"] == "archive.refreshed"
    assert history["versions"][-1]["created_by"] == "system" and history["chain"]["ok"]

    # Nothing expires within a year: a second run changes nothing.
    again = refresh(instance)
    assert again.exit_code == 0, again.output
    assert "0 document renouvelé sur 1 document signé vérifié" in again.stdout
    assert _versions(app, document_id) == sealed_number + 1 and len(_refreshed_events(app)) == 1


@pytest.mark.parametrize(("given", "days"), [("90", 90), ("90j", 90), ("90d", 90), ("2a", 730), ("2Y", 730),
                                             (" 11y ", 4015)])
def test_the_window_is_read_in_days_or_years(given, days):
    assert Window().convert(given, None, None) == dt.timedelta(days=days)


def test_the_dates_are_written_in_words(tmp_path):
    # No document: the summary still names the deadline, in the employer's time zone, as the documents write dates.
    result = refresh(tmp_path / "instance", "--within", "366")
    assert result.exit_code == 0, result.output
    deadline = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=366)).astimezone(PARIS).date()
    assert f"(expiration avant le {french_date(deadline)})" in result.stdout
    assert not re.search(r"\d{2}/\d{2}/\d{4}", result.stdout)


def test_a_window_that_is_not_a_delay_is_refused(tmp_path):
    result = refresh(tmp_path / "instance", "--within", "bientôt")
    assert result.exit_code == 2 and "bientôt" in result.output
