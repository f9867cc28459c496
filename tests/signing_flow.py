"""Drive a real signature request to completion through the API (manager, then employee), for tests.

The usual flow, in a test module with the service's ``app``, a ``client`` and an HR token::

    @pytest.fixture(scope="module")
    def compte_rendu(pool):
        return real_compte_rendu(pool)                      # (pdf, snapshot), converted once per module

    store_employees(app)                                    # E0003 and their manager, the signers
    document_id = store_document(app, *compte_rendu)
    request_id, final_pdf = complete_request(app, client, hr_token, document_id)

``links(app)`` reads the signing links e-mailed so far (the outbox), for the steps a test takes itself;
``fresh_app(settings)`` runs the service on a test's own settings, with the instance PKIs forgotten.
Engine-level signed files (no service) are in ``signed_samples``.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from api_helpers import SAMPLES
from parcours.service import documents, pki as instance_pki
from parcours.settings import Settings
from signed_samples import compte_rendu_docx

LINK = re.compile(r"/signer/([A-Za-z0-9_-]{20,})")
MATRICULE = "E0003"
"""The sample employee whose compte rendu is signed (manager: François Rousseau)."""


def service_today() -> dt.date:
    """Today where the service stamps its dates (its time zone, Paris by default): from 23:00 or 22:00 UTC,
    that is already tomorrow, while `date.today()` on a machine set to UTC still says today."""
    return Settings().today()


class MailInbox:
    """The handler of a test SMTP server (aiosmtpd's Controller): every message it accepted, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        """The messages to `address` (with or without a display name), oldest first."""
        with self.lock:
            return [m for m in self.messages if address in m["To"]]


def sample_dataset():
    """The sample employees (samples/), with their absences and trainings, as docgen reads them."""
    from docgen.dataset import load_dataset_dir

    return load_dataset_dir(SAMPLES).dataset


def real_compte_rendu(pool) -> tuple[bytes, dict]:
    """The sample compte rendu of E0003 as PDF (converted by the session `pool`), with its data snapshot."""
    from parcours import snapshot

    docx, context = compte_rendu_docx(MATRICULE)
    return pool.convert(docx), snapshot.dump(context)


@contextmanager
def fresh_app(settings) -> Iterator:
    """The service on `settings` (``create_app``), closed after; the loaded instance PKIs are forgotten
    before and after, so that it loads (or creates) its own, in its instance folder."""
    from parcours.app import create_app

    instance_pki.forget()
    app = create_app(settings)
    try:
        yield app
    finally:
        app.extensions["parcours"].close()
        instance_pki.forget()


def store_employees(app) -> None:
    """The sample employees in the service's database: a request needs its signers (E0003 and their manager)."""
    from parcours.service.employees import upsert_dataset

    with app.extensions["parcours"].db.session() as session:
        upsert_dataset(session, sample_dataset())


def store_document(app, pdf: bytes, snap: dict, *, template: str = "compte_rendu", created_by: str = "test") -> int:
    """Store `pdf` as a new document of E0003 (version 1, made from the current version of `template`,
    by `created_by`); its id. Forgets the loaded instance PKIs first: each test's instance has its own."""
    instance_pki.forget()
    services = app.extensions["parcours"]
    with services.db.session() as session:
        version = documents.find_template_version(session, template)
        return documents.store(session, services.blobs, version,
                               documents.NewVersion(MATRICULE, pdf, documents.page_count(pdf), snap),
                               created_by=created_by).document_id


def links(app) -> list[str]:
    """The tokens of the signing links sent so far, oldest first (e-mails go to the outbox): the page of
    one is ``/signer/<token>``, its API ``/api/v1/sign/<token>``."""
    outbox = app.extensions["parcours"].settings.instance_dir / "outbox"
    found = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        match = LINK.search(path.read_text())
        if match:
            found.append(match.group(1))
    return found


def complete_request(app, client, hr_token: str, document_id: int, *,
                     comments: str | None = "D’accord.") -> tuple[int, bytes]:
    """Create a request, sign as manager then employee (with `comments`, none if None); the request id
    and the final (sealed) PDF. `app` is the instance whose outbox gets the links, `client` the one
    that answers (they may differ, as an app with other settings on the same instance folder)."""
    hr = {"Authorization": f"Bearer {hr_token}"}
    created = client.post(f"/api/v1/documents/{document_id}/signature-requests", headers=hr)
    assert created.status_code == 201, created.json
    manager = client.post(f"/api/v1/sign/{links(app)[-1]}", json={"consent": True})
    assert manager.status_code == 200 and manager.json["status"] == "pending", manager.json
    answer = {"consent": True} if comments is None else {"consent": True, "comments": comments}
    done = client.post(f"/api/v1/sign/{links(app)[-1]}", json=answer)
    assert done.status_code == 200 and done.json["status"] == "completed", done.json
    final = done.json["final_version"]
    pdf = client.get(f"/api/v1/documents/{document_id}/versions/{final}/pdf", headers=hr)
    assert pdf.status_code == 200
    return created.json["id"], pdf.data
