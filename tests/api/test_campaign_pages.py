"""The campaign, interview and compte rendu pages without a browser (SQLite and PostgreSQL): the wizard's errors
inline and nothing created, a campaign from the due list's selection, its page with the late ones first and its
progress refreshing itself, outcomes recorded with CSRF and French errors, the compte rendu's drafts saved by htmx."""

from __future__ import annotations

import datetime as dt
import io
import re

from campaign_flow import VALUES
from sqlalchemy import func, select
from test_web_pages import post, signed_in, text

from parcours.models import Campaign, Interview, ReportContent
from parcours.service import interviews
from parcours.service.audit import Actor
from signing_flow import service_today

TODAY = service_today()
WIZARD = {"nom": "Entretiens 2027", "debut": TODAY.isoformat(), "fin": (TODAY + dt.timedelta(days=400)).isoformat(),
          "creneaux_debut": (TODAY + dt.timedelta(days=14)).isoformat(), "heures": "09:00, 10:30, 14:00, 15:30",
          "lieu": "Salle Fourvière", "societe_nom": VALUES["societe"]["nom"],
          "societe_adresse": VALUES["societe"]["adresse"], "societe_code_postal": VALUES["societe"]["code_postal"],
          "societe_ville": VALUES["societe"]["ville"], "effectif": "120",
          "signataire_nom": "Élodie Lefèvre-Dubois", "signataire_fonction": "Responsable RH"}


def htmx(client, path, csrf, data):
    return client.post(path, data={"csrf_token": csrf, **data},
                       headers={"Origin": "http://localhost", "HX-Request": "true"})


def count(app, model, *where):
    with app.extensions["parcours"].db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_wizard_shows_the_errors_in_french_on_the_form_and_creates_nothing(app, employees):
    hr, csrf = signed_in(app, ["hr"])
    page = text(hr.get("/campagnes/nouvelle"))
    assert "Nouvelle campagne" in page and 'name="modele_periodique"' in page
    assert re.search(r'href="/api/v1/templates/convocation/versions/1/preview.pdf"', page)  # a convocation's preview
    wrong = post(hr, "/campagnes/nouvelle", csrf, {**WIZARD, "fin": "2020-01-01", "matricules": "E0003 Z9999"})
    assert wrong.status_code == 422
    answer = text(wrong)
    assert "<td>Fin de la période (period.fin)</td>" in answer and "précède son début" in answer
    assert 'value="Entretiens 2027"' in answer  # what was typed stays
    nobody = post(hr, "/campagnes/nouvelle", csrf, {**WIZARD, "matricules": "Z9999"})
    assert nobody.status_code == 422 and "aucun salarié n&#39;a le matricule « Z9999 »" in text(nobody)
    assert count(app, Campaign) == 0 and count(app, Interview) == 0
    assert post(hr, "/campagnes/nouvelle", "faux", WIZARD).status_code == 403


def test_a_campaign_from_the_due_list_selection_and_its_page(app, employees):
    hr, csrf = signed_in(app, ["hr"])
    due = text(hr.get("/echeances?avant=" + (TODAY + dt.timedelta(days=400)).isoformat()))
    assert 'form="selection" name="matricule" value="E0003"' in due and "Créer une campagne avec la sélection" in due
    chosen = text(hr.get("/campagnes/nouvelle?matricule=E0003&matricule=E0001&matricule=E0015"))
    assert "3 salarié(s) sélectionné(s)" in chosen and '<input type="hidden" name="matricule" value="E0015">' in chosen
    created = post(hr, "/campagnes/nouvelle", csrf, {**WIZARD, "matricule": ["E0003", "E0001", "E0015"]})
    assert created.status_code == 303, text(created)
    campaign_id = int(created.headers["Location"].rsplit("/", 1)[1])
    page = text(hr.get(created.headers["Location"]))
    assert "Campagne « Entretiens 2027 » créée" in page
    assert "N&#39;Diaye" in page and "Lambert" in page and "Martin" in page
    # E0001 has no manager: « à planifier » with the reason, and late (within a week? no: its slot is two weeks on).
    assert "n&#39;a pas de responsable" in page
    assert f"/api/v1/campaigns/{campaign_id}/export?format=xlsx" in page
    # The jobs do not run here: the batches are pending, the progress polls itself.
    progress = text(hr.get(f"/campagnes/{campaign_id}", headers={"HX-Request": "true"}))
    assert 'hx-trigger="every 2s"' in progress and "<h1>" not in progress
    assert "Convocations envoyées par courriel : 0 sur 2" in progress  # E0001's cannot be made
    listing = text(hr.get("/campagnes"))
    assert "Entretiens 2027" in listing and "à planifier : 3" in listing  # none sent yet
    assert hr.get("/campagnes/99999").status_code == 404


def test_the_late_interviews_come_first_on_the_campaign_page(app, employees):
    hr, csrf = signed_in(app, ["hr"])
    created = post(hr, "/campagnes/nouvelle", csrf, {**WIZARD, "matricule": ["E0003", "E0015", "E0009"]})
    campaign_id = int(created.headers["Location"].rsplit("/", 1)[1])
    with app.extensions["parcours"].db.session() as session:
        last = session.scalars(select(Interview).where(Interview.campaign_id == campaign_id)
                               .order_by(Interview.date.desc())).first()
        last.status, last.date = "convoked", TODAY - dt.timedelta(days=3)
        late_name = last.matricule
    page = text(hr.get(f"/campagnes/{campaign_id}"))
    rows = page.split("<tbody>")[-1].split("</tr>")
    assert "en retard" in rows[0] and {"E0003": "Diaye", "E0015": "Lambert", "E0009": "Girard"}[late_name] in rows[0]


def _interview(app, **fields) -> int:
    with app.extensions["parcours"].db.session() as session:
        found = interviews.record(session, created_by=Actor("test", "cli"), today=TODAY, **fields)
        return found.id


def test_outcomes_are_recorded_with_french_errors_next_to_the_forms(app, employees):
    hr, csrf = signed_in(app, ["hr"])
    interview_id = _interview(app, matricule="E0003", type="periodique", status="convoked",
                              date=TODAY + dt.timedelta(days=10))
    page = text(hr.get(f"/entretiens/{interview_id}"))
    assert "Entretien tenu" in page and "Annuler l’entretien" in page
    future = post(hr, f"/entretiens/{interview_id}/tenu", csrf, {"date": (TODAY + dt.timedelta(days=2)).isoformat()})
    assert future.status_code == 422 and "ne peut pas être daté dans le futur" in text(future)
    bad = post(hr, f"/entretiens/{interview_id}/tenu", csrf, {"date": "32/13/2026"})
    assert bad.status_code == 422 and "une date (AAAA-MM-JJ) est attendue" in text(bad)
    no_reason = post(hr, f"/entretiens/{interview_id}/annule", csrf, {"note": " "})
    assert no_reason.status_code == 422 and "la raison de l&#39;annulation est obligatoire" in text(no_reason)
    held = post(hr, f"/entretiens/{interview_id}/tenu", csrf, {"date": TODAY.isoformat(), "note": "en salle B"})
    assert held.status_code == 303 and "Entretien enregistré comme tenu" in text(hr.get(held.headers["Location"]))
    again = post(hr, f"/entretiens/{interview_id}/refuse", csrf, {"date": TODAY.isoformat()})
    assert again.status_code == 409 and "annulez-le" in text(again)
    cancelled = post(hr, f"/entretiens/{interview_id}/annule", csrf, {"note": "saisi par erreur"})
    assert cancelled.status_code == 303
    with app.extensions["parcours"].db.session() as session:
        assert session.get(Interview, interview_id).status == "cancelled"
    auditor, auditor_csrf = signed_in(app, ["auditor"], email="audit@atelier.fr")
    assert "Enregistrer ce qui s’est passé" not in text(auditor.get(f"/entretiens/{interview_id}"))
    assert post(auditor, f"/entretiens/{interview_id}/tenu", auditor_csrf, {"date": TODAY.isoformat()}).status_code \
        == 403


def test_the_interviewer_writes_the_compte_rendu_saved_as_drafts_by_htmx(app, employees):
    interview_id = _interview(app, matricule="E0003", type="periodique", status="convoked",
                              date=TODAY + dt.timedelta(days=5))
    manager, csrf = signed_in(app, ["manager"], matricule="E0005", email="francois@atelier.fr")
    assert f"/entretiens/{interview_id}/compte-rendu" in text(manager.get("/mes-entretiens"))
    form = text(manager.get(f"/entretiens/{interview_id}/compte-rendu"))
    assert 'hx-trigger="input delay:1500ms, change"' in form and "<script" not in form.split("</head>")[1]
    assert form.count("(obligatoire)") == 5 and "Bilan de mi-carrière" not in form
    draft = htmx(manager, f"/entretiens/{interview_id}/compte-rendu", csrf,
                 {"parcours": "Maintenance préventive de la ligne 2.", "information_cpf": "1"})
    answer = text(draft)
    assert draft.status_code == 200 and "version 1" in answer and "<h1>" not in answer
    assert "À rédiger avant l’envoi" in answer and "Formations suivies et souhaitées" in answer
    half_action = htmx(manager, f"/entretiens/{interview_id}/compte-rendu", csrf,
                       {"actions-0-action": "Formation automatismes"})
    assert "sections.actions[0].porteur" in text(half_action) and "obligatoire" in text(half_action)
    too_early = post(manager, f"/entretiens/{interview_id}/compte-rendu/signature", csrf,
                     {key: "Rédigé." for key in ("parcours", "competences", "besoins_formation", "souhaits",
                                                  "cpf_cep")})
    assert too_early.status_code == 422 and "n&#39;a pas encore eu lieu" in text(too_early)
    with app.extensions["parcours"].db.session() as session:
        rows = list(session.scalars(select(ReportContent).where(ReportContent.interview_id == interview_id)
                                    .order_by(ReportContent.number)))
        assert [r.status for r in rows] == ["draft", "complete"] and rows[0].sections["information_cpf"] is True
    other, _ = signed_in(app, ["manager"], matricule="E0023", email="raphael@atelier.fr")
    refused = other.get(f"/entretiens/{interview_id}/compte-rendu")
    assert refused.status_code == 403 and "Seuls le service RH" in text(refused)


def test_a_mid_career_interview_asks_for_its_own_section(app, employees):
    interview_id = _interview(app, matricule="E0004", type="mi_carriere", status="convoked",
                              date=TODAY + dt.timedelta(days=5))
    hr, _ = signed_in(app, ["hr"])
    form = text(hr.get(f"/entretiens/{interview_id}/compte-rendu"))
    assert form.count("(obligatoire)") == 6 and "Bilan de mi-carrière" in form


def test_a_campaign_interview_is_moved_with_a_new_convocation_or_cancelled_from_its_page(app, employees):
    hr, csrf = signed_in(app, ["hr"])
    created = post(hr, "/campagnes/nouvelle", csrf, {**WIZARD, "matricule": ["E0003", "E0015"]})
    campaign_id = int(created.headers["Location"].rsplit("/", 1)[1])
    with app.extensions["parcours"].db.session() as session:
        first, second = session.scalars(select(Interview.id).where(Interview.campaign_id == campaign_id)
                                        .order_by(Interview.id)).all()
    assert "Déplacer et envoyer la nouvelle convocation" in text(hr.get(f"/entretiens/{first}"))
    past = post(hr, f"/entretiens/{first}/deplace", csrf, {"date": "2020-01-06", "heure": "09:00"})
    assert past.status_code == 422 and "créneau dans le passé" in text(past)
    day = (TODAY + dt.timedelta(days=30)).isoformat()
    moved = post(hr, f"/entretiens/{first}/deplace", csrf, {"date": day, "heure": "11:00", "lieu": "Salle B"})
    assert moved.status_code == 303
    page = text(hr.get(moved.headers["Location"]))
    assert "Entretien déplacé" in page and "version 2" in page and "11 h" in page and "Salle B" in page
    cancelled = post(hr, f"/entretiens/{second}/annule", csrf, {"note": "départ de l’entreprise"})
    assert cancelled.status_code == 303
    with app.extensions["parcours"].db.session() as session:
        assert session.get(Interview, second).status == "cancelled"
        assert session.get(Interview, second).reason == "départ de l’entreprise"
    assert post(hr, f"/entretiens/{second}/inconnu", csrf, {}).status_code == 404


def test_an_etat_des_lieux_interview_asks_for_the_recap_and_offers_its_own_signature(app, employees):
    interview_id = _interview(app, matricule="E0004", type="etat_des_lieux", status="convoked",
                              date=TODAY + dt.timedelta(days=5))
    hr, csrf = signed_in(app, ["hr"])
    form = text(hr.get(f"/entretiens/{interview_id}/compte-rendu"))
    assert "État des lieux récapitulatif (six ans)" in form and "compte-rendu/signature?document=etat_des_lieux" in form
    draft = htmx(hr, f"/entretiens/{interview_id}/compte-rendu", csrf, {"edl-progression": "oui"})
    assert "progression salariale" not in text(draft) and "éléments de certification obtenus par la VAE" in text(draft)
    early = post(hr, f"/entretiens/{interview_id}/compte-rendu/signature?document=etat_des_lieux", csrf,
                 {"edl-progression": "oui", "edl-vae": "non"})
    assert early.status_code == 422 and "n&#39;a pas encore eu lieu" in text(early)
    with app.extensions["parcours"].db.session() as session:
        last = session.scalars(select(ReportContent).where(ReportContent.interview_id == interview_id)
                               .order_by(ReportContent.number.desc())).first()
        assert last.sections["etat_des_lieux"] == {"progression": True, "vae": False}


def test_a_planning_file_in_the_wizard_names_its_wrong_row_on_the_form(app, employees):
    hr, csrf = signed_in(app, ["hr"])
    soon = (TODAY + dt.timedelta(days=20)).strftime("%d/%m/%Y")
    planning = f"matricule;date;heure;lieu\nE0003;{soon};9h30;Atelier\nE0015;02/01/2020;10:00;Atelier\n"
    wrong = post(hr, "/campagnes/nouvelle", csrf, {**WIZARD, "matricule": ["E0003", "E0015"],
                                                   "planning": (io.BytesIO(planning.encode("cp1252")), "planning.csv")},
                 content_type="multipart/form-data")
    assert wrong.status_code == 422
    row = text(wrong).split("<tbody>")[1].split("</tr>")[0]
    assert "<td>planning</td><td>3</td><td>date</td>" in row and "créneau dans le passé" in row
    assert count(app, Campaign) == 0
    planning = planning.replace("02/01/2020", soon).replace("10:00", "14:00")
    created = post(hr, "/campagnes/nouvelle", csrf, {**WIZARD, "matricule": ["E0003", "E0015"],
                                                     "planning": (io.BytesIO(planning.encode()), "planning.csv")},
                   content_type="multipart/form-data")
    assert created.status_code == 303
    with app.extensions["parcours"].db.session() as session:
        slots = {i.matricule: (i.date, i.heure.strftime("%H:%M"), i.lieu) for i in session.scalars(select(Interview))}
    day = TODAY + dt.timedelta(days=20)
    assert slots == {"E0003": (day, "09:30", "Atelier"), "E0015": (day, "14:00", "Atelier")}
