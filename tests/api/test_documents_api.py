"""Documents: one generated now, stored as version 1 with its PDF, DOCX and data; listed, read, downloaded."""

import copy
import hashlib
import json

import pytest
from sqlalchemy import select

from api_helpers import SAMPLES, bearer, lend_pool
from docgen.dataset import load_dataset_dir
from docx_factory import docx_text, make_docx
from parcours import snapshot
from parcours.models import Document, DocumentVersion, Template, TemplateVersion
from parcours.service import documents as service
from parcours.service.employees import upsert_dataset

PROBLEM = "application/problem+json"
CAMPAIGN = json.loads((SAMPLES / "campagne.json").read_text(encoding="utf-8"))
VALUES = {key: value for key, value in CAMPAIGN.items() if key != "salaries"}


def add_template(app, name: str, data: bytes) -> int:
    """A template version written directly (the templates API is tested elsewhere)."""
    container = app.extensions["parcours"]
    with container.db.session() as session:
        template = session.scalar(select(Template).where(Template.name == name))
        if template is None:
            template = Template(name=name)
            session.add(template)
        number = len(template.versions) + 1
        version = TemplateVersion(template=template, number=number, sha256=container.blobs.put(data),
                                  filename=f"{name}.docx", size=len(data), inspection={}, created_by="test")
        session.add(version)
        session.flush()
        return version.id


def ensure_convocation(app) -> None:
    """The shipped convocation, seeded at start; inserted here if seeding is off."""
    with app.extensions["parcours"].db.session() as session:
        exists = session.scalar(select(Template.id).where(Template.name == "convocation"))
    if exists is None:
        add_template(app, "convocation", (SAMPLES.parent / "parcours" / "resources" / "documents" / "convocation.docx").read_bytes())


@pytest.fixture
def employees(app):
    ensure_convocation(app)
    with app.extensions["parcours"].db.session() as session:
        upsert_dataset(session, load_dataset_dir(SAMPLES).dataset)


def post(client, token, **body):
    return client.post("/api/v1/documents", json=body, headers=bearer(token))


def fake_documents(app, matricules: list[str]) -> list[int]:
    """Documents stored without LibreOffice (the PDF bytes are a stand-in)."""
    container = app.extensions["parcours"]
    ids = []
    with container.db.session() as session:
        version = session.scalar(select(TemplateVersion).join(TemplateVersion.template)
                                 .where(Template.name == "convocation"))
        for matricule in matricules:
            row = service.store(session, container.blobs, version, service.NewVersion(
                matricule, f"%PDF-1.7 {matricule}".encode(), 1, {"salarie": {"matricule": matricule}}),
                created_by="test")
            ids.append(row.document_id)
    return ids


@pytest.mark.libreoffice
def test_hr_generates_a_document_kept_as_version_1_with_its_pdf_docx_and_data(app, client, tokens, employees, pool):
    lend_pool(app, pool)
    response = post(client, tokens["hr"], template="convocation", template_version=1, matricule="E0003", values=VALUES)
    assert response.status_code == 201, response.json
    document = response.json
    assert response.headers["Location"].endswith(f"/api/v1/documents/{document['id']}")
    assert document["matricule"] == "E0003" and document["created_by"] == "test hr"
    assert document["template"] == {"name": "convocation", "version": 1} and document["batch_id"] is None
    version = document["latest_version"]
    assert version["number"] == 1 and version["kind"] == "generated" and version["pages"] >= 1

    pdf = client.get(version["links"]["pdf"], headers=bearer(tokens["auditor"]))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert hashlib.sha256(pdf.data).hexdigest() == version["pdf_sha256"]
    assert "convocation-E0003-v1.pdf" in pdf.headers["Content-Disposition"]
    docx = client.get(version["links"]["docx"], headers=bearer(tokens["hr"]))
    assert docx.status_code == 200 and hashlib.sha256(docx.data).hexdigest() == version["docx_sha256"]
    assert load_dataset_dir(SAMPLES).dataset.employee("E0003").nom in docx_text(docx.data)

    listed = client.get(f"/api/v1/documents/{document['id']}/versions", headers=bearer(tokens["auditor"])).json["items"]
    assert [(v["number"], v["pdf_sha256"], v["docx_sha256"]) for v in listed] == \
        [(1, version["pdf_sha256"], version["docx_sha256"])]
    with app.extensions["parcours"].db.session() as session:
        row = session.scalar(select(DocumentVersion).where(DocumentVersion.document_id == document["id"]))
        context = snapshot.load(row.snapshot)
    assert context["salarie"]["matricule"] == "E0003"
    assert str(context["entretien"]["date"]) == "2027-01-12"  # a date again, not a string


def test_readers_list_documents_by_matricule_or_batch_a_page_at_a_time(app, client, tokens, employees):
    ids = fake_documents(app, ["E0001", "E0002", "E0001", "E0003", "E0001"])
    seen, url = [], "/api/v1/documents?matricule=E0001&limit=2"
    while url:
        page = client.get(url, headers=bearer(tokens["auditor"]))
        assert page.status_code == 200
        seen += [item["id"] for item in page.json["items"]]
        assert len(page.json["items"]) <= 2
        url = page.json["links"]["next"]
    assert seen == [ids[0], ids[2], ids[4]]
    everything = client.get("/api/v1/documents", headers=bearer(tokens["hr"])).json
    assert [item["id"] for item in everything["items"]] == ids and everything["next_cursor"] is None
    assert client.get("/api/v1/documents?batch=999", headers=bearer(tokens["hr"])).json["items"] == []
    one = client.get(f"/api/v1/documents/{ids[3]}", headers=bearer(tokens["auditor"])).json
    assert one["matricule"] == "E0003" and one["latest_version"]["pages"] == 1


def test_a_document_of_a_batch_gives_its_docx_rendered_again_from_its_data(app, client, tokens, employees):
    container = app.extensions["parcours"]
    with container.db.session() as session:
        version = session.scalar(select(TemplateVersion).join(TemplateVersion.template).where(Template.name == "convocation"))
        dataset = service.employee_dataset(session, ["E0005"], service.load_values(VALUES))
        context = service.load_values(VALUES).context(dataset, "E0005")
        row = service.store(session, container.blobs, version,
                            service.NewVersion("E0005", b"%PDF-1.7 stand-in", 1, snapshot.dump(context)), created_by="t")
    docx = client.get(f"/api/v1/documents/{row.document_id}/versions/1/docx", headers=bearer(tokens["hr"]))
    assert docx.status_code == 200
    text = docx_text(docx.data)
    assert dataset.employee("E0005").nom in text


@pytest.mark.parametrize("method, path, role, status", [
    ("post", "/api/v1/documents", None, 401),
    ("post", "/api/v1/documents", "auditor", 403),
    ("post", "/api/v1/documents", "admin", 403),
    ("get", "/api/v1/documents", None, 401),
    ("get", "/api/v1/documents", "admin", 403),
    ("get", "/api/v1/documents/1", "admin", 403),
    ("get", "/api/v1/documents/1/versions", None, 401),
    ("get", "/api/v1/documents/1/versions/1/pdf", "admin", 403),
    ("get", "/api/v1/documents/1/versions/1/docx", None, 401),
    ("get", "/api/v1/documents/12345", "hr", 404),
    ("get", "/api/v1/documents/12345/versions", "auditor", 404),
    ("get", "/api/v1/documents/12345/versions/1/pdf", "auditor", 404),
])
def test_refusals_are_problems(client, tokens, method, path, role, status):
    headers = bearer(tokens[role]) if role else {}
    response = getattr(client, method)(path, json={}, headers=headers)
    assert response.status_code == status
    assert response.mimetype == PROBLEM and response.json["status"] == status


def test_a_missing_version_number_is_404(app, client, tokens, employees):
    [document_id] = fake_documents(app, ["E0004"])
    response = client.get(f"/api/v1/documents/{document_id}/versions/2/pdf", headers=bearer(tokens["hr"]))
    assert response.status_code == 404 and response.mimetype == PROBLEM


def _values(**changes):
    values = copy.deepcopy(VALUES)
    for path, value in changes.items():
        block, key = path.split("__")
        if value is None:
            values[block].pop(key, None)
        else:
            values[block][key] = value
    return values


@pytest.mark.parametrize("body, field", [
    ({"values": _values(entretien__date=None)}, "values.entretien.date"),
    ({"values": _values(entretien__heure="25:99")}, "values.entretien.heure"),
    ({"values": _values(courrier__date="31/02/2027")}, "values.courrier.date"),
    ({"values": {**VALUES, "inconnu": 1}}, "values"),
    ({"values": "pas un objet"}, "values"),
    ({"values": {**VALUES, "salaries": {}}}, "values.salaries"),
    ({"values": {**VALUES, "societe": {**VALUES["societe"], "logo": "/etc/passwd"}}}, "values.societe.logo"),
    ({"matricule": "E9999"}, "matricule"),
    ({"matricule": ""}, "matricule"),
    ({"template": "inconnu"}, "template"),
    ({"template_version": 7}, "template_version"),
    ({"template_version": "1"}, "template_version"),
    ({"couleur": "bleu"}, "couleur"),
])
def test_wrong_values_are_422_naming_the_field(client, tokens, employees, body, field):
    request = {"template": "convocation", "matricule": "E0003", "values": VALUES, **body}
    response = post(client, tokens["hr"], **request)
    assert response.status_code == 422, response.json
    assert response.mimetype == PROBLEM
    assert field in [error["field"] for error in response.json["errors"]]


def test_a_field_the_template_lacks_is_422_naming_field_template_and_employee(app, client, tokens, employees):
    add_template(app, "lettre", make_docx("Bonjour {{ salarie.prenom }}, votre badge {{ salarie.badge }}."))
    response = post(client, tokens["hr"], template="lettre", matricule="E0007", values=VALUES)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    [error] = response.json["errors"]
    assert error["field"] == "salarie.badge" and error["template"] == "lettre" and error["matricule"] == "E0007"
    with app.extensions["parcours"].db.session() as session:
        assert session.scalar(select(Document.id)) is None


def test_a_body_that_is_not_json_is_400(client, tokens):
    response = client.post("/api/v1/documents", data="x", headers=bearer(tokens["hr"]))
    assert response.status_code == 400 and response.mimetype == PROBLEM
