"""The compte rendu's content, written by the interviewer or HR section by section after the interview (each
save a version, drafts included), checked against what the law asks for the interview's type, then generated
into the compte rendu — only once the interview has taken place — and, if asked, sent for signature."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docgen import formatting
from docgen.values import ValuesError, parse_date
from parcours.container import Services
from parcours.errors import Conflict, Invalid, NotFound
from parcours.models import Employee, Interview, ReportContent, SignatureRequest, User
from parcours.service import audit, documents, interview_outcomes, signatures
from parcours.service.audit import Actor

SECTIONS: dict[str, str] = {
    "parcours": "Situation et parcours depuis le dernier entretien",
    "competences": "Compétences et qualifications, certifications",
    "besoins_formation": "Formations suivies et souhaitées",
    "souhaits": "Projets d'évolution professionnelle",
    "cpf_cep": "Compte personnel de formation, abondements, VAE et conseil en évolution professionnelle",
    "bilan_mi_carriere": "Bilan de mi-carrière (IV de l'article L.\u00a06315-1 du code du travail)",
    "fin_de_carriere": "Maintien dans l'emploi et fin de carrière (V de l'article L.\u00a06315-1)",
    "competences_mandat": "Compétences acquises au cours du mandat (article L.\u00a02141-5)",
    "reprise_consequences": "Conséquences du congé sur la rémunération et la carrière (article L.\u00a01225-57)",
}
"""The texts of the compte rendu (the keys of docgen's `compte_rendu` block), with what each is about."""
FLAGS: dict[str, str] = {
    "information_vae": "information sur la validation des acquis de l'expérience",
    "information_cpf": "information sur l'activation du CPF et les abondements de l'employeur",
    "information_cep": "information sur le conseil en évolution professionnelle",
}
REQUIRED = ("parcours", "competences", "besoins_formation", "souhaits", "cpf_cep")
"""Every compte rendu covers the five topics of L. 6315-1 (I and II)."""
REQUIRED_BY_TYPE = {"mi_carriere": ("bilan_mi_carriere",), "avant_60": ("fin_de_carriere",),
                    "fin_mandat": ("competences_mandat",)}
"""The sections an interview's type adds (the compte rendu prints them)."""
RECAP: dict[str, str] = {
    "progression": "progression salariale ou professionnelle au cours de la période (oui ou non)",
    "progression_detail": "en quoi (promotion, augmentation, qualification…)",
    "vae": "éléments de certification obtenus par la VAE (oui ou non)",
    "certification_detail": "les certifications obtenues (sinon, celles des formations certifiantes)",
    "commentaires": "observations",
}
"""The état des lieux récapitulatif's part that only people know (`sections.etat_des_lieux`); the counts, the
interviews, the trainings and the abondement come from the legal calendar and are never entered."""
RECAP_REQUIRED = ("progression", "vae")
"""Said for an état des lieux interview: otherwise the document prints « À renseigner »."""
MAX_TEXT, MAX_ACTIONS, MAX_ACTION_TEXT = 5000, 20, 300
DOCUMENTS = ("compte_rendu", "etat_des_lieux")
ACTION_KEYS = ("action", "type", "echeance", "porteur")


def get_interview(session: Session, interview_id: int) -> Interview:
    interview = session.get(Interview, interview_id)
    if interview is None:
        raise NotFound("Entretien introuvable", f"Aucun entretien n'a l'identifiant {interview_id}.")
    return interview


def may_write(session: Session, interview: Interview, actor: Actor) -> bool:
    """HR, or the interviewer: the employee's manager, signed in as himself."""
    if "hr" in actor.roles:
        return True
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    employee = session.get(Employee, interview.matricule)
    return bool(user is not None and user.matricule and employee is not None
                and employee.manager_matricule == user.matricule)


def check(raw: Any) -> dict[str, Any]:
    """The sections as given, checked for types and lengths (422 naming each field); empty ones are allowed."""
    if not isinstance(raw, dict):
        raise Invalid("Valeurs invalides", errors=[{"field": "sections", "reason": "un objet JSON est attendu"}])
    errors: list[dict[str, Any]] = []
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        field = f"sections.{key}"
        if key in SECTIONS:
            if not isinstance(value, str):
                errors.append({"field": field, "reason": "un texte est attendu"})
            elif len(value) > MAX_TEXT:
                errors.append({"field": field, "reason": f"{len(value)} caractères : {MAX_TEXT} au plus"})
            else:
                clean[key] = value.strip()
        elif key in FLAGS:
            if not isinstance(value, bool):
                errors.append({"field": field, "reason": "true ou false"})
            else:
                clean[key] = value
        elif key == "actions":
            clean[key] = _actions(value, errors)
        elif key == "etat_des_lieux":
            clean[key] = _recap(value, errors)
        else:
            errors.append({"field": field, "reason": "section inconnue (sections : "
                           f"{', '.join([*SECTIONS, *FLAGS, 'actions'])})"})
    if errors:
        raise Invalid("Valeurs invalides", errors=errors)
    return clean


def _actions(raw: Any, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) > MAX_ACTIONS:
        errors.append({"field": "sections.actions", "reason": f"une liste de {MAX_ACTIONS} actions au plus"})
        return []
    actions = []
    for i, item in enumerate(raw):
        field = f"sections.actions[{i}]"
        if not isinstance(item, dict):
            errors.append({"field": field, "reason": "un objet {action, type, echeance, porteur} est attendu"})
            continue
        for key in set(item) - set(ACTION_KEYS):
            errors.append({"field": f"{field}.{key}", "reason": "champ inconnu"})
        action = {}
        for key in ("action", "type", "porteur"):
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                errors.append({"field": f"{field}.{key}", "reason": "obligatoire"})
            elif len(value) > MAX_ACTION_TEXT:
                errors.append({"field": f"{field}.{key}", "reason": f"{MAX_ACTION_TEXT} caractères au plus"})
            else:
                action[key] = value.strip()
        try:
            action["echeance"] = parse_date(item.get("echeance"), f"{field}.echeance").isoformat()
        except ValuesError as exc:
            errors.append({"field": f"{field}.echeance", "reason": str(exc).split(" : ", 1)[-1]})
        actions.append(action)
    return actions


def _recap(raw: Any, errors: list[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.append({"field": "sections.etat_des_lieux", "reason": "un objet est attendu "
                       f"({', '.join(RECAP)})"})
        return {}
    recap = {}
    for key, value in raw.items():
        field = f"sections.etat_des_lieux.{key}"
        if key not in RECAP:
            errors.append({"field": field, "reason": f"champ inconnu (champs : {', '.join(RECAP)} ; le reste vient "
                           "du calendrier légal)"})
        elif key in ("progression", "vae"):
            if not isinstance(value, bool):
                errors.append({"field": field, "reason": "true ou false"})
            else:
                recap[key] = value
        elif not isinstance(value, str) or len(value) > MAX_TEXT:
            errors.append({"field": field, "reason": f"un texte de {MAX_TEXT} caractères au plus"})
        else:
            recap[key] = value.strip()
    return recap


def missing(interview_type: str, sections: dict[str, Any]) -> list[dict[str, str]]:
    """The required sections still empty, each with what it is about."""
    wanted = (*REQUIRED, *REQUIRED_BY_TYPE.get(interview_type, ()))
    gaps = [{"field": f"sections.{key}", "reason": f"à rédiger : {SECTIONS[key]}"}
            for key in wanted if not sections.get(key)]
    if interview_type == "etat_des_lieux":
        recap = sections.get("etat_des_lieux") or {}
        gaps += [{"field": f"sections.etat_des_lieux.{key}", "reason": f"à renseigner : {RECAP[key]}"}
                 for key in RECAP_REQUIRED if key not in recap]
    return gaps


def latest(session: Session, interview_id: int) -> ReportContent | None:
    return session.scalar(select(ReportContent).where(ReportContent.interview_id == interview_id)
                          .order_by(ReportContent.number.desc()).limit(1))


def save(session: Session, interview_id: int, raw: Any, *, by: Actor) -> ReportContent:
    """A new version of the content (a draft while sections are missing); an audit event."""
    interview = get_interview(session, interview_id)
    if interview.status == "cancelled":
        raise Conflict("Entretien annulé", "Cet entretien est annulé : son compte rendu ne se rédige plus.")
    sections = check(raw)
    number = (session.scalar(select(func.max(ReportContent.number))
                             .where(ReportContent.interview_id == interview_id)) or 0) + 1
    row = ReportContent(interview_id=interview_id, number=number, sections=sections,
                        status="draft" if missing(interview.type, sections) else "complete",
                        created_by=audit.label(by))
    session.add(row)
    session.flush()
    audit.record(session, "compte_rendu.saved", subject_type="interview", subject_id=interview_id, actor=by,
                 data={"version": number, "status": row.status, "sections": sorted(k for k, v in sections.items() if v)})
    return row


def view(session: Session, interview: Interview, row: ReportContent | None) -> dict[str, Any]:
    sections = row.sections if row is not None else {}
    return {"interview_id": interview.id, "type": interview.type, "date": interview.date.isoformat(),
            "version": row.number if row else None, "status": row.status if row else "empty",
            "sections": sections, "missing": missing(interview.type, sections),
            "document_id": row.document_id if row else None,
            "created_by": row.created_by if row else None,
            "created_at": row.created_at.isoformat() if row else None,
            "labels": {**SECTIONS, **FLAGS, **{f"etat_des_lieux.{k}": v for k, v in RECAP.items()}}}


def _time_and_place(interview: Interview) -> dict[str, str]:
    """The hour and place the interview records, which the document takes as it takes its type and day (a value
    sent with the request only fills in what the interview does not record)."""
    recorded = {"heure": interview.heure.strftime("%H:%M") if interview.heure else None, "lieu": interview.lieu,
                "lien_visio": interview.lien_visio}
    return {key: value for key, value in recorded.items() if value}


def generate(services: Services, interview_id: int, raw_values: Any, *, by: Actor, sign: Any = False,
             document: Any = "compte_rendu", signers: Any = None) -> dict[str, Any]:
    """The compte rendu (or, for an état des lieux interview, `document="etat_des_lieux"`: the récapitulatif) from
    the latest content, with the interview's type, day, hour and place: refused (422 naming the date) while the
    interview is to come, or while sections are missing; a compte rendu is tied to the interview; `sign` opens the
    request at once."""
    if not isinstance(sign, bool):
        raise Invalid("Valeurs invalides", errors=[{"field": "sign", "reason": "true ou false"}])
    if signers is not None and not sign:
        raise Invalid("Valeurs invalides", errors=[{"field": "signers", "reason": "avec \"sign\": true seulement"}])
    if document not in DOCUMENTS:
        raise Invalid("Valeurs invalides", errors=[{"field": "document", "reason": "compte_rendu ou etat_des_lieux"}])
    if raw_values is not None and not isinstance(raw_values, dict):
        raise Invalid("Valeurs invalides", errors=[{"field": "values", "reason": "un objet JSON est attendu"}])
    with services.db.session() as session:
        interview = get_interview(session, interview_id)
        if interview.status == "cancelled":
            raise Conflict("Entretien annulé", "Cet entretien est annulé : il n'a pas de compte rendu.")
        if interview.date > services.settings.today():
            day = formatting.date(interview.date)
            raise Invalid("Entretien à venir", f"L'entretien est prévu le {day} : son compte rendu se génère une "
                          "fois l'entretien tenu.", errors=[{"field": "date", "value": interview.date.isoformat(),
                                                              "reason": f"l'entretien du {day} n'a pas encore eu lieu"}])
        row = latest(session, interview_id)
        if row is None:
            raise Invalid("Compte rendu vide", "Rien n'est encore rédigé pour cet entretien.",
                          errors=[{"field": "sections", "reason": "aucun contenu enregistré"}])
        if document == "etat_des_lieux" and interview.type != "etat_des_lieux":
            raise Invalid("Valeurs invalides", errors=[{"field": "document", "reason": "seul un entretien d'état des "
                                                        "lieux (type etat_des_lieux) a un état des lieux récapitulatif"}])
        gaps = missing(interview.type, row.sections)
        if gaps:
            raise Invalid("Compte rendu incomplet", "Des sections obligatoires sont encore vides.", errors=gaps)
        if document == "compte_rendu" and interview.document_id is not None and session.scalar(
                select(SignatureRequest.id).where(SignatureRequest.document_id == interview.document_id,
                                                  SignatureRequest.status.in_(("pending", "completed")))):
            raise Conflict("Compte rendu déjà en signature",
                           "Le compte rendu de cet entretien est en signature ou signé : annulez la demande d'abord.")
        values = dict(raw_values or {})
        values.setdefault("societe", {"nom": services.settings.organisation})
        entretien = dict(values.get("entretien") or {})
        entretien.update(type=interview.type, date=interview.date.isoformat(), **_time_and_place(interview))
        values["entretien"] = entretien
        # « remise » is left out: the copy is delivered when the last signature is in (service.copies).
        if document == "compte_rendu":
            values["compte_rendu"] = {k: v for k, v in row.sections.items() if k != "etat_des_lieux"}
        else:
            values["etat_des_lieux"] = dict(row.sections.get("etat_des_lieux") or {})
        version = documents.generate_one(services, session, document, None, interview.matricule, values,
                                         created_by=by)
        if document == "compte_rendu":
            row.document_id = version.document_id
            interview_outcomes.attach_document(session, interview, version.document_id, by=by)
        audit.record(session, f"{document}.generated", subject_type="interview", subject_id=interview_id, actor=by,
                     data={"content_version": row.number, "document_id": version.document_id,
                           "pdf_sha256": version.pdf_sha256})
        document_id = version.document_id
    result: dict[str, Any] = {"interview_id": interview_id, "document": document, "document_id": document_id,
                              "content_version": row.number, "signature_request_id": None}
    if sign:
        created = signatures.create_request(services, document_id, actor=by, signers=signers)
        result.update(signature_request_id=created.request_id, email_sent=created.email_sent)
    return result
