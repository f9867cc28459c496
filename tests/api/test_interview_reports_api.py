"""The compte rendu's content through the API: drafts kept as versions, checked per interview type, written by
HR or the interviewer only, generated into the compte rendu once the interview has taken place (422 naming
the date before), then sent for signature at once if asked."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from sqlalchemy import select

from api_helpers import bearer, lend_pool
from docgen.formatting import date as french_date
from parcours.models import DocumentVersion, Interview, SignatureRequest
from parcours.service import interviews
from parcours.service.audit import Actor
from parcours.service.tokens import create_token
from parcours.service.users import create_user
from test_documents_api import VALUES
from signing_flow import service_today

PROBLEM = "application/problem+json"
SECTIONS = {
    "parcours": "Depuis le dernier entretien, M. N'Diaye a pris en charge la maintenance préventive de la ligne 2.",
    "competences": "Maîtrise du soudage TIG ; habilitation électrique B1V obtenue en 2025.",
    "besoins_formation": "Formation suivie : habilitation électrique. Souhaitée : automatismes (Siemens S7).",
    "souhaits": "Évoluer vers un poste de technicien de maintenance confirmé d'ici deux ans.",
    "cpf_cep": "Le salarié connaît son CPF ; les coordonnées du CEP lui ont été remises.",
    "information_vae": True, "information_cpf": True, "information_cep": True,
    "actions": [{"action": "Formation automatismes (5 jours)", "type": "Formation", "echeance": "2027-06-30",
                 "porteur": "Service RH"}],
}


def _interview(app, *, days: int, type: str = "periodique") -> int:
    with app.extensions["parcours"].db.session() as session:
        return interviews.record(session, matricule="E0003", type=type, status="planned", today=service_today(),
                                 date=service_today() + dt.timedelta(days=days), created_by="test").id


def _put(client, token, interview_id, sections):
    return client.put(f"/api/v1/interviews/{interview_id}/compte-rendu", json={"sections": sections},
                      headers=bearer(token))


def test_drafts_are_versions_and_what_is_missing_is_named(app, client, tokens, employees):
    interview_id = _interview(app, days=-2)
    empty = client.get(f"/api/v1/interviews/{interview_id}/compte-rendu", headers=bearer(tokens["hr"])).json
    assert empty["status"] == "empty" and empty["version"] is None and len(empty["missing"]) == 5
    draft = _put(client, tokens["hr"], interview_id, {"parcours": SECTIONS["parcours"]})
    assert draft.status_code == 200, draft.json
    assert draft.json["version"] == 1 and draft.json["status"] == "draft"
    assert {m["field"] for m in draft.json["missing"]} == {"sections.competences", "sections.besoins_formation",
                                                           "sections.souhaits", "sections.cpf_cep"}
    complete = _put(client, tokens["hr"], interview_id, SECTIONS).json
    assert complete["version"] == 2 and complete["status"] == "complete" and complete["missing"] == []
    listed = client.get(f"/api/v1/interviews/{interview_id}/compte-rendu/versions", headers=bearer(tokens["hr"])).json
    assert [(v["version"], v["status"]) for v in listed["items"]] == [(1, "draft"), (2, "complete")]
    assert listed["items"][0]["sections"] == {"parcours": SECTIONS["parcours"]}  # the draft is kept as it was


def test_a_mid_career_interview_needs_its_bilan(app, client, tokens, employees):
    interview_id = _interview(app, days=-2, type="mi_carriere")
    saved = _put(client, tokens["hr"], interview_id, SECTIONS).json
    assert saved["status"] == "draft" and [m["field"] for m in saved["missing"]] == ["sections.bilan_mi_carriere"]


def test_wrong_sections_are_422_naming_each_field(app, client, tokens, employees):
    interview_id = _interview(app, days=-2)
    response = _put(client, tokens["hr"], interview_id, {
        "parcours": "x" * 5001, "souhait": "typo", "information_vae": "oui",
        "actions": [{"action": "Formation", "type": "Formation", "echeance": "30/02/2027", "porteur": ""}]})
    assert response.status_code == 422 and response.mimetype == PROBLEM
    fields = {e["field"]: e["reason"] for e in response.json["errors"]}
    assert set(fields) == {"sections.parcours", "sections.souhait", "sections.information_vae",
                           "sections.actions[0].echeance", "sections.actions[0].porteur"}
    assert "5000 au plus" in fields["sections.parcours"]
    assert _put(client, tokens["hr"], interview_id, "texte").status_code == 422
    assert client.get(f"/api/v1/interviews/{interview_id}/compte-rendu/versions",
                      headers=bearer(tokens["hr"])).json["items"] == []


def test_only_hr_and_the_interviewer_write_the_compte_rendu(app, client, tokens, employees):
    interview_id = _interview(app, days=-2)
    with app.extensions["parcours"].db.session() as session:
        boss = create_user(session, email="francois.rousseau@atelier-lumiere.example", name="François Rousseau",
                           roles=["manager"], matricule="E0005", by=Actor("test", "cli"))  # E0003's manager
        other = create_user(session, email="autre.manager@atelier-lumiere.example", name="Autre Manager",
                            roles=["manager"], matricule="E0001", by=Actor("test", "cli"))
        boss_token, _ = create_token(session, "manager", "boss", user_id=boss.id)
        other_token, _ = create_token(session, "manager", "other", user_id=other.id)
    assert _put(client, boss_token, interview_id, SECTIONS).status_code == 200
    assert _put(client, other_token, interview_id, SECTIONS).status_code == 403
    assert client.get(f"/api/v1/interviews/{interview_id}/compte-rendu", headers=bearer(tokens["auditor"])).status_code == 403


def test_a_compte_rendu_is_not_generated_before_the_interview_took_place(app, client, tokens, employees):
    interview_id = _interview(app, days=30)
    assert _put(client, tokens["hr"], interview_id, SECTIONS).status_code == 200
    response = client.post(f"/api/v1/interviews/{interview_id}/compte-rendu/document", json={"values": VALUES},
                           headers=bearer(tokens["hr"]))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    day = service_today() + dt.timedelta(days=30)
    assert response.json["errors"] == [{"field": "date", "value": day.isoformat(),
                                        "reason": f"l'entretien du {french_date(day)} n'a pas encore eu lieu"}]


def test_an_incomplete_content_is_not_generated(app, client, tokens, employees):
    interview_id = _interview(app, days=-1)
    _put(client, tokens["hr"], interview_id, {"parcours": "Début."})
    response = client.post(f"/api/v1/interviews/{interview_id}/compte-rendu/document", json={},
                           headers=bearer(tokens["hr"]))
    assert response.status_code == 422 and len(response.json["errors"]) == 4


@pytest.mark.libreoffice
def test_the_content_becomes_the_compte_rendu_of_the_interview_and_goes_to_signature(app, client, tokens, employees,
                                                                                      pool, tmp_path):
    lend_pool(app, pool)
    interview_id = _interview(app, days=-3)
    _put(client, tokens["hr"], interview_id, SECTIONS)
    values = {"societe": {"nom": "Atelier Lumière", "adresse": "18 quai Saint-Vincent", "code_postal": "69001",
                          "ville": "Lyon"},  # as the README sends them
              "courrier": {"signataire": {"nom": "Élodie Lefèvre-Dubois", "fonction": "Responsable RH"}},
              "entretien": {"heure": "14:30", "duree": 60, "lieu": "Salle Fourvière"}}
    response = client.post(f"/api/v1/interviews/{interview_id}/compte-rendu/document",
                           json={"values": values, "sign": True}, headers=bearer(tokens["hr"]))
    assert response.status_code == 201, response.json
    result = response.json
    assert result["signature_request_id"] and result["content_version"] == 1
    with app.extensions["parcours"].db.session() as session:
        assert session.get(Interview, interview_id).document_id == result["document_id"]
        request = session.scalar(select(SignatureRequest).where(SignatureRequest.document_id == result["document_id"]))
        assert request.status == "pending" and [s.role for s in request.signers] == ["manager", "salarie"]
    pdf = client.get(f"/api/v1/documents/{result['document_id']}/versions/1/pdf", headers=bearer(tokens["hr"])).data
    path = tmp_path / "cr.pdf"
    path.write_bytes(pdf)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout.split())
    assert "habilitation électrique B1V obtenue en 2025" in text and "Formation automatismes (5 jours)" in text
    assert french_date(service_today() - dt.timedelta(days=3)) in text  # the interview's own date
    assert "Copie remise au salarié le" in text and "19 janvier 2027" not in text  # no fixed « remise » date any more
    again = client.post(f"/api/v1/interviews/{interview_id}/compte-rendu/document", json={"values": values},
                        headers=bearer(tokens["hr"]))
    assert again.status_code == 409


@pytest.mark.libreoffice
def test_the_compte_rendu_takes_the_hour_and_place_the_interview_records(app, client, tokens, employees, pool):
    lend_pool(app, pool)
    interview_id = _interview(app, days=-3)
    with app.extensions["parcours"].db.session() as session:
        interview = session.get(Interview, interview_id)
        interview.heure, interview.lieu = dt.time(14, 30), "Salle Fourvière"
    _put(client, tokens["hr"], interview_id, SECTIONS)
    # The request names another hour and no place: the interview's own prevail, as its type and day do.
    values = {key: value for key, value in VALUES.items() if key not in ("entretien", "compte_rendu")}
    response = client.post(f"/api/v1/interviews/{interview_id}/compte-rendu/document",
                           json={"values": {**values, "entretien": {"heure": "09:00"}}}, headers=bearer(tokens["hr"]))
    assert response.status_code == 201, response.json
    with app.extensions["parcours"].db.session() as session:
        entretien = session.scalar(select(DocumentVersion.snapshot)
                                   .where(DocumentVersion.document_id == response.json["document_id"]))["entretien"]
    assert entretien["heure"] == {"$time": "14:30:00"} and entretien["lieu"] == "Salle Fourvière"


@pytest.mark.libreoffice
def test_an_etat_des_lieux_interview_records_its_recap_and_generates_the_recapitulatif(app, client, tokens, employees,
                                                                                       pool, tmp_path):
    lend_pool(app, pool)
    interview_id = _interview(app, days=-1, type="etat_des_lieux")
    draft = _put(client, tokens["hr"], interview_id, SECTIONS).json
    assert [m["field"] for m in draft["missing"]] == ["sections.etat_des_lieux.progression",
                                                      "sections.etat_des_lieux.vae"]
    wrong = _put(client, tokens["hr"], interview_id, {**SECTIONS, "etat_des_lieux": {"abondement": 3000, "vae": "non"}})
    assert {e["field"] for e in wrong.json["errors"]} == {"sections.etat_des_lieux.abondement",
                                                          "sections.etat_des_lieux.vae"}
    recap = {"progression": True, "progression_detail": "Passage au coefficient 240 en 2024.", "vae": False}
    assert _put(client, tokens["hr"], interview_id, {**SECTIONS, "etat_des_lieux": recap}).json["status"] == "complete"
    values = {key: value for key, value in VALUES.items() if key != "compte_rendu"}
    signers = [{"role": "manager", "name": "Élodie Lefèvre-Dubois", "email": "elodie.lefevre@atelier-lumiere.example"},
               {"role": "salarie"}]
    made = client.post(f"/api/v1/interviews/{interview_id}/compte-rendu/document", headers=bearer(tokens["hr"]),
                       json={"values": values, "document": "etat_des_lieux", "sign": True, "signers": signers})
    assert made.status_code == 201, made.json
    assert made.json["document"] == "etat_des_lieux" and made.json["signature_request_id"]
    pdf = client.get(f"/api/v1/documents/{made.json['document_id']}/versions/1/pdf", headers=bearer(tokens["hr"])).data
    path = tmp_path / "edl.pdf"
    path.write_bytes(pdf)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout.split())
    assert "Passage au coefficient 240 en 2024." in text and "État des lieux récapitulatif" in text
    periodic = _interview(app, days=-1)
    _put(client, tokens["hr"], periodic, SECTIONS)
    refused = client.post(f"/api/v1/interviews/{periodic}/compte-rendu/document", headers=bearer(tokens["hr"]),
                          json={"values": values, "document": "etat_des_lieux"})
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "document"
