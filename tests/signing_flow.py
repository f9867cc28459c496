"""Drive a real signature request to completion through the API (manager, then employee), for tests."""

from __future__ import annotations

import re
from pathlib import Path

from parcours.service import documents, pki as instance_pki

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"/signer/([A-Za-z0-9_-]{20,})")


def real_compte_rendu(pool) -> tuple[bytes, dict]:
    """The sample compte rendu of E0003 as PDF, with its data snapshot."""
    from docgen.context import load_dataset_dir
    from docgen.render import DocxRenderer
    from docgen.values import load_values
    from parcours import snapshot

    dataset = load_dataset_dir(ROOT / "samples").dataset
    context = load_values(ROOT / "samples" / "campagne.json").context(dataset, "E0003")
    renderer = DocxRenderer((ROOT / "templates" / "compte_rendu.docx").read_bytes(), "compte_rendu.docx")
    return pool.convert(renderer.render(context, "E0003")), snapshot.dump(context)


def store_document(app, pdf: bytes, snap: dict) -> int:
    """Store the compte rendu as a new document (version 1); its id."""
    instance_pki.forget()
    services = app.extensions["parcours"]
    with services.db.session() as session:
        version = documents.find_template_version(session, "compte_rendu")
        return documents.store(session, services.blobs, version,
                               documents.NewVersion("E0003", pdf, documents.page_count(pdf), snap),
                               created_by="test").document_id


def links(app) -> list[str]:
    """The signing links sent so far, oldest first (e-mails go to the outbox)."""
    outbox = app.extensions["parcours"].settings.instance_dir / "outbox"
    found = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        match = LINK.search(path.read_text())
        if match:
            found.append(match.group(1))
    return found


def complete_request(app, client, hr_token: str, document_id: int) -> tuple[int, bytes]:
    """Create a request, sign as manager then employee; the request id and the final (sealed) PDF."""
    hr = {"Authorization": f"Bearer {hr_token}"}
    created = client.post(f"/api/v1/documents/{document_id}/signature-requests", headers=hr)
    assert created.status_code == 201, created.json
    assert client.post(f"/api/v1/sign/{links(app)[-1]}", json={"consent": True}).status_code == 200  # the manager
    done = client.post(f"/api/v1/sign/{links(app)[-1]}", json={"consent": True, "comments": "D’accord."})
    assert done.status_code == 200 and done.json["status"] == "completed", done.json
    final = done.json["final_version"]
    pdf = client.get(f"/api/v1/documents/{document_id}/versions/{final}/pdf", headers=hr)
    assert pdf.status_code == 200
    return created.json["id"], pdf.data
