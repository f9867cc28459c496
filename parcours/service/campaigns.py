"""Campaigns: from the legal calendar's due list to interviews with their slots and convocation batches, moved
or cancelled one by one, and tracked by status, service and manager.

Creation checks everything first (population, planning, interviewers, slots) and writes nothing unless all
is right: the campaign, one interview per due employee, the convocation and trame batches and the first
convocation versions, in one transaction. An interview is « à planifier » until its convocation is sent
(parcours.service.convocations); one whose convocation cannot be made stays so, with the reason.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docgen import formatting
from docgen.values import ValuesError, parse_date, parse_time
from parcours.container import Services
from parcours.errors import Conflict, Invalid, NotFound
from parcours.jobs.runner import enqueue
from parcours.models import BatchItem, Campaign, Convocation, Employee, Interview
from parcours.service import audit, batches, due, interviews, webhooks
from parcours.service.audit import Actor

POPULATION_KEYS = ("services", "sites", "managers", "matricules")
TRAME_TEMPLATE = "trame"
DISPATCH_JOB = "convocation_dispatch"
NO_INTERVIEWER = ("{name} ({matricule}) n'a pas de responsable : indiquez qui mène l'entretien "
                  "(values.salaries.{matricule}.entretien.interlocuteur)")


@dataclass(frozen=True)
class Interviewer:
    """Who leads an interview and receives its invitation."""

    matricule: str | None
    name: str
    email: str


def _error(errors: list[dict[str, Any]], field: str, reason: str, **where: Any) -> None:
    errors.append({**where, "field": field, "reason": reason})


def _date(raw: Any, field: str, errors: list[dict[str, Any]], default: dt.date | None = None) -> dt.date | None:
    if raw is None or raw == "":
        if default is None:
            _error(errors, field, "date obligatoire (AAAA-MM-JJ)")
        return default
    try:
        return parse_date(raw, field)
    except ValuesError as exc:
        _error(errors, field, str(exc))
        return None


def _population(raw: Any, uploaded: Sequence[str] | None, errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        _error(errors, "population", "objet {services, sites, managers, matricules} attendu (vide : tout le monde)")
        return {}
    population: dict[str, list[str]] = {}
    for key, value in raw.items():
        if key not in POPULATION_KEYS:
            _error(errors, f"population.{key}", f"critère inconnu (critères : {', '.join(POPULATION_KEYS)})")
        elif not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            _error(errors, f"population.{key}", "une liste de textes est attendue")
        else:
            population[key] = [v.strip() for v in value]
    if uploaded is not None:
        population["matricules"] = list(uploaded)
    return population


def _interviewer(matricule: str, employee: Employee, given: Any, people: Mapping[str, Employee],
                 errors: list[dict[str, Any]]) -> Interviewer | None:
    """The interlocuteur HR named (a matricule or an object with an e-mail), else the employee's manager."""
    field = f"values.salaries.{matricule}.entretien.interlocuteur"
    if isinstance(given, Mapping):
        name = " ".join(str(given.get(k) or "") for k in ("prenom", "nom")).strip()
        email = str(given.get("email") or "").strip()
        if not email:
            _error(errors, f"{field}.email", f"l'interlocuteur de {matricule} ({name or 'sans nom'}) n'a pas d'adresse "
                   "e-mail : il doit recevoir l'invitation", row=matricule)
            return None
        return Interviewer(None, name, email)
    if isinstance(given, str) and given:
        who, field = given, field
    elif employee.manager_matricule:
        who, field = employee.manager_matricule, f"employees.{matricule}.manager_matricule"
    else:
        return None
    person = people.get(who)
    if person is None:
        _error(errors, field, f"aucun salarié n'a le matricule « {who} » (interlocuteur de {matricule})", row=matricule)
        return None
    if not (person.email or "").strip():
        _error(errors, field, f"l'interlocuteur de {matricule}, {person.prenom} {person.nom} ({who}), n'a pas "
               "d'adresse e-mail : il doit recevoir l'invitation", row=matricule)
        return None
    return Interviewer(who, f"{person.prenom} {person.nom}", person.email)


def create(services: Services, session: Session, body: Mapping[str, Any], *, planning_rows: Mapping[str, int] | None = None,
           uploaded_population: Sequence[str] | None = None, by: str | Actor) -> Campaign:
    """Check everything, then write the campaign, its interviews, batches and convocations, and commit."""
    settings, errors = services.settings, []
    today = settings.today()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        _error(errors, "name", "nom obligatoire (200 caractères au plus)")
    period = body.get("period") if isinstance(body.get("period"), Mapping) else {}
    start = _date(period.get("debut"), "period.debut", errors)
    end = _date(period.get("fin"), "period.fin", errors)
    if start and end and end < start:
        _error(errors, "period.fin", "la fin de la période précède son début")
    on = _date(body.get("on"), "on", errors, default=today)
    population = _population(body.get("population"), uploaded_population, errors)
    options = {}
    for key in ("values", "templates", "planning", "creneaux"):
        value = body.get(key) or {}
        if not isinstance(value, Mapping):
            _error(errors, key, "objet JSON attendu")
            value = {}
        options[key] = value
    trame = body.get("trame", TRAME_TEMPLATE)
    if not isinstance(trame, str) or not trame:
        _error(errors, "trame", "le nom du modèle de la trame est attendu")
    if errors:
        raise Invalid("Campagne invalide : rien n'a été créé", errors=errors)
    values = options["values"]

    people = {e.matricule: e for e in session.scalars(select(Employee))}
    for key in ("matricules", "managers"):
        for position, matricule in enumerate(population.get(key, []), start=1):
            if matricule not in people:
                where = {"row": position + 1, "file": "population"} if key == "matricules" and uploaded_population \
                    is not None else {"row": position}
                _error(errors, f"population.{key}", f"aucun salarié n'a le matricule « {matricule} »", value=matricule,
                       **where)
    if errors:
        raise Invalid("Population invalide : rien n'a été créé", errors=errors)
    chosen = [m for m, e in sorted(people.items())
              if (e.date_sortie is None or e.date_sortie >= on)
              and ("matricules" not in population or m in population["matricules"])
              and ("services" not in population or e.service in population["services"])
              and ("sites" not in population or e.site in population["sites"])
              and ("managers" not in population or e.manager_matricule in population["managers"])]
    if not chosen:
        raise Invalid("Population vide", "Aucun salarié ne répond aux critères de la campagne.",
                      errors=[{"field": "population", "reason": "aucun salarié"}])

    headcount = int((values.get("societe") or {}).get("effectif") or settings.headcount)
    _, found = due.due_list(session, before=end, on=on, headcount=headcount,
                            period_years=settings.epp_period_years, matricules=chosen)
    # An employee with an interview still « à planifier » (its convocation not sent yet, or failed) is in the
    # campaign that made it: HR completes it there. The calendar does not count it as planned: left out here.
    handled = set(session.scalars(select(Interview.matricule).where(
        Interview.status == "to_plan", Interview.matricule.in_(chosen))))
    found = [d for d in found if d.matricule not in handled]
    first = due.most_pressing(found)
    if not first:
        raise Invalid("Personne n'est à convoquer", f"Aucun entretien de cette population n'est dû avant le "
                      f"{formatting.date(end)}.", errors=[{"field": "period.fin", "reason": "aucun entretien dû"}])

    planning = due.slots_from_planning(options["planning"])
    rows = planning_rows or {}

    def where(matricule: str) -> dict[str, Any]:
        return {"file": "planning", "row": rows[matricule]} if matricule in rows else {"row": matricule}

    for matricule, slot in planning.items():
        field = "date" if matricule in rows else f"planning.{matricule}.date"
        if matricule not in first:
            _error(errors, "matricule" if matricule in rows else f"planning.{matricule}",
                   f"{matricule} n'a pas d'entretien dû dans cette campagne", **where(matricule))
        elif slot.date < max(today, on):
            _error(errors, field, f"créneau dans le passé (le {formatting.date(slot.date)})", **where(matricule))
        elif slot.date > end + dt.timedelta(days=366):
            _error(errors, field, "un entretien se planifie au plus un an après la fin de la période", **where(matricule))
    slots = due.assign_slots(list(first), planning, options["creneaux"], max(on, today, start))

    given = values.get("salaries") or {}
    interviewers: dict[str, Interviewer | None] = {}
    for matricule in first:
        chosen_one = ((given.get(matricule) or {}).get("entretien") or {}).get("interlocuteur") \
            if isinstance(given.get(matricule), Mapping) else None
        interviewers[matricule] = _interviewer(matricule, people[matricule], chosen_one, people, errors)
    taken: dict[tuple[Any, ...], str] = {}
    for matricule in first:
        interviewer = interviewers[matricule]
        if interviewer is None:
            continue
        key = (slots[matricule].date, slots[matricule].heure, interviewer.email.lower())
        if key in taken:
            _error(errors, "heure" if matricule in rows else f"planning.{matricule}.heure",
                   f"{interviewer.name} mène déjà l'entretien de {taken[key]} le {formatting.date(key[0])} à "
                   f"{formatting.heure(key[1])}", **where(matricule))
        else:
            taken[key] = matricule
    if errors:
        raise Invalid("Campagne invalide : rien n'a été créé", errors=errors)

    campaign = Campaign(name=name.strip(), period_start=start, period_end=end, reference_date=on,
                        population=population, batch_ids=[], created_by=audit.label(by),
                        settings={"values": values, "templates": options["templates"], "trame": trame,
                                  "creneaux": options["creneaux"]})
    session.add(campaign)
    session.flush()
    made: dict[str, Interview] = {}
    for matricule, item in first.items():
        slot, interviewer = slots[matricule], interviewers[matricule]
        interview = Interview(
            matricule=matricule, type=item.type, status="to_plan", date=slot.date, heure=slot.heure, lieu=slot.lieu,
            lien_visio=slot.lien_visio, campaign_id=campaign.id, created_by=audit.label(by),
            interviewer_matricule=interviewer.matricule if interviewer else None,
            interviewer_name=interviewer.name if interviewer else None,
            interviewer_email=interviewer.email if interviewer else None,
            reason=None if interviewer else NO_INTERVIEWER.format(
                name=f"{people[matricule].prenom} {people[matricule].nom}", matricule=matricule))
        session.add(interview)
        made[matricule] = interview
    session.flush()

    groups: dict[str, list[str]] = {}
    for matricule, item in first.items():
        if interviewers[matricule] is not None:
            template = options["templates"].get(item.type) or options["templates"].get("*") or due.DEFAULT_TEMPLATE
            groups.setdefault(template, []).append(matricule)
    label = audit.label(by) or "system"
    pending: list[int] = []
    for template, matricules in sorted(groups.items()):
        raw = due.document_values(values, first, slots, matricules)
        letter_chunks: list[dict[str, Any]] = []
        guide_chunks: list[dict[str, Any]] = []
        letters = batches.add_batch(services, session, template=template, matricules=matricules, raw_values=raw,
                                    created_by=label, chunks=letter_chunks)
        guides = batches.add_batch(services, session, template=trame, matricules=matricules, raw_values=raw,
                                   created_by=label, chunks=guide_chunks)
        # Each employee's convocation and trame made one after the other: the e-mails start after the first
        # chunks instead of after every convocation.
        for pair in itertools.zip_longest(letter_chunks, guide_chunks):
            for payload in pair:
                if payload is not None:
                    enqueue(session, batches.KIND, payload)
        campaign.batch_ids = [*campaign.batch_ids, letters.id, guides.id]
        items = _items(session, [letters.id, guides.id])
        for matricule in matricules:
            letter, guide = items[letters.id, matricule], items[guides.id, matricule]
            convocation = _convocation(made[matricule], 1, label, letter, guide)
            session.add(convocation)
            if convocation.status == "pending":
                pending.append(convocation)
    session.flush()
    for interview in made.values():
        audit.record(session, "interview.planned", subject_type="interview", subject_id=interview.id, actor=by,
                     data={"campaign": campaign.id, "matricule": interview.matricule, "type": interview.type,
                           "status": interview.status, "date": interview.date.isoformat(),
                           "heure": interview.heure.strftime("%H:%M"), "reason": interview.reason})
        webhooks.emit(session, "interview.planned", interview_event(interview))
    audit.record(session, "campaign.created", subject_type="campaign", subject_id=campaign.id, actor=by,
                 data={"name": campaign.name, "interviews": len(made), "batches": campaign.batch_ids})
    webhooks.emit(session, "campaign.created", {"campaign_id": campaign.id, "interviews": len(made),
                                                "links": {"campaign": f"{webhooks.API_ROOT}/campaigns/{campaign.id}",
                                                          "interviews": f"{webhooks.API_ROOT}/interviews?campaign="
                                                                        f"{campaign.id}"}})
    if pending:
        enqueue(session, DISPATCH_JOB, {"convocations": [c.id for c in pending]})
    session.commit()
    return campaign


def _items(session: Session, batch_ids: list[int]) -> dict[tuple[int, str], BatchItem]:
    return {(item.batch_id, item.matricule): item
            for item in session.scalars(select(BatchItem).where(BatchItem.batch_id.in_(batch_ids)))}


def _convocation(interview: Interview, version: int, by: str, letter: BatchItem | None,
                 guide: BatchItem | None, trame_document_id: int | None = None) -> Convocation:
    """A convocation version for the interview's slot; failed at once when its document cannot be made."""
    convocation = Convocation(interview_id=interview.id, version=version, method="REQUEST", status="pending",
                              date=interview.date, heure=interview.heure, lieu=interview.lieu,
                              lien_visio=interview.lien_visio, batch_item_id=letter.id if letter else None,
                              trame_item_id=guide.id if guide else None, trame_document_id=trame_document_id,
                              created_by=by)
    failed = [item for item in (letter, guide) if item is not None and item.status == "failed"]
    if failed:
        convocation.status, convocation.error = "failed", failed[0].error
        interview.status, interview.reason = "to_plan", f"convocation impossible : {failed[0].error}"
    return convocation


def interview_event(interview: Interview) -> dict[str, Any]:
    """A webhook's data for an interview: ids and links only."""
    root = webhooks.API_ROOT
    return {"interview_id": interview.id, "campaign_id": interview.campaign_id, "status": interview.status,
            "links": {"interview": f"{root}/interviews/{interview.id}",
                      **({"campaign": f"{root}/campaigns/{interview.campaign_id}"} if interview.campaign_id else {})}}


# --- one interview: move, cancel -----------------------------------------------------------------------

def _open_interview(session: Session, interview_id: int) -> Interview:
    interview = session.get(Interview, interview_id, with_for_update=True)
    if interview is None:
        raise NotFound("Entretien introuvable", f"Aucun entretien n'a l'identifiant {interview_id}.")
    if interview.status not in interviews.OPEN:
        raise Conflict("Entretien clos", f"L'entretien {interview_id} est « {interviews.LABELS[interview.status]} » : "
                       "il ne peut plus être déplacé ni annulé ainsi.")
    return interview


def latest_convocation(session: Session, interview_id: int) -> Convocation | None:
    return session.scalar(select(Convocation).where(Convocation.interview_id == interview_id)
                          .order_by(Convocation.version.desc()).limit(1))


def move(services: Services, session: Session, interview_id: int, body: Mapping[str, Any], *,
         by: str | Actor) -> Interview:
    """A new day, time or place: a new convocation version (same invitation UID, next SEQUENCE), mailed."""
    interview = _open_interview(session, interview_id)
    errors: list[dict[str, Any]] = []
    day = _date(body.get("date"), "date", errors)
    try:
        hour = parse_time(body.get("heure"), "heure") if body.get("heure") else interview.heure
    except ValuesError as exc:
        _error(errors, "heure", str(exc))
        hour = None
    if day and day < services.settings.today():
        _error(errors, "date", f"créneau dans le passé (le {formatting.date(day)})")
    if errors:
        raise Invalid("Valeurs invalides", errors=errors)
    if interview.interviewer_email:
        clash = session.scalar(select(Interview.matricule).where(
            Interview.id != interview.id, Interview.date == day, Interview.heure == hour,
            func.lower(Interview.interviewer_email) == interview.interviewer_email.lower(),
            Interview.status.in_(interviews.OPEN)).limit(1))
        if clash:
            raise Invalid("Créneau déjà pris", errors=[{"field": "heure", "reason": f"{interview.interviewer_name} mène "
                          f"déjà l'entretien de {clash} le {formatting.date(day)} à {formatting.heure(hour)}"}])
    campaign = session.get(Campaign, interview.campaign_id) if interview.campaign_id else None
    if campaign is None:
        raise Conflict("Entretien hors campagne", "Seul un entretien d'une campagne a une convocation à renvoyer : "
                       "modifiez celui-ci avec PATCH /interviews/{id}.")
    before = {"date": interview.date.isoformat(), "heure": interview.heure.strftime("%H:%M") if interview.heure else None}
    previous = latest_convocation(session, interview.id)
    interview.date, interview.heure = day, hour
    for key in ("lieu", "lien_visio"):
        if key in body:
            setattr(interview, key, body.get(key) or None)
    label = audit.label(by) or "system"
    letter = None
    if interview.interviewer_email:
        template = campaign.settings["templates"].get(interview.type) or campaign.settings["templates"].get("*") \
            or due.DEFAULT_TEMPLATE
        slot = due.Slot(day, hour, interview.lieu, interview.lien_visio)
        raw = due.document_values(campaign.settings["values"], {interview.matricule: interview},
                                  {interview.matricule: slot}, [interview.matricule])
        batch = batches.add_batch(services, session, template=template, matricules=[interview.matricule],
                                  raw_values=raw, created_by=label)
        letter = _items(session, [batch.id])[batch.id, interview.matricule]
    if previous is not None and previous.status in ("pending", "sending"):
        previous.status = "superseded"
    was_sent = previous is not None and previous.sent_at is not None
    convocation = _convocation(interview, (previous.version if previous else 0) + 1, label, letter,
                               None, trame_document_id=previous.trame_document_id if previous else None)
    if previous is not None and previous.trame_document_id is None:
        convocation.trame_item_id = previous.trame_item_id
    if letter is None:
        convocation.status, convocation.error = "failed", interview.reason
    session.add(convocation)
    if convocation.status == "pending":
        interview.status, interview.reason = ("rescheduled" if was_sent else "to_plan"), None
    session.flush()
    audit.record(session, "interview.rescheduled", subject_type="interview", subject_id=interview.id, actor=by,
                 data={"before": before, "date": day.isoformat(), "heure": hour.strftime("%H:%M"),
                       "convocation_version": convocation.version})
    webhooks.emit(session, "interview.rescheduled", interview_event(interview))
    if convocation.status == "pending":
        enqueue(session, DISPATCH_JOB, {"convocations": [convocation.id]})
    session.commit()
    return interview


def cancel(services: Services, session: Session, interview_id: int, reason: Any, *, by: str | Actor) -> Interview:
    """Cancel an open interview with its reason; those who had the invitation get its cancellation (METHOD:CANCEL)."""
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("Valeurs invalides", errors=[{"field": "reason", "reason": "la raison de l'annulation est obligatoire"}])
    interview = _open_interview(session, interview_id)
    previous = latest_convocation(session, interview.id)
    interview.status, interview.reason = "cancelled", reason.strip()
    label = audit.label(by) or "system"
    convocation = None
    if previous is not None:
        was_sent = session.scalar(select(func.count()).select_from(Convocation).where(
            Convocation.interview_id == interview.id, Convocation.sent_at.is_not(None)))
        if previous.status in ("pending", "sending"):
            previous.status = "superseded"
        if was_sent:
            convocation = Convocation(interview_id=interview.id, version=previous.version + 1, method="CANCEL",
                                      status="pending", date=interview.date, heure=interview.heure,
                                      lieu=interview.lieu, lien_visio=interview.lien_visio, created_by=label)
            session.add(convocation)
    session.flush()
    audit.record(session, "interview.cancelled", subject_type="interview", subject_id=interview.id, actor=by,
                 data={"reason": interview.reason, "cancellation_version": convocation.version if convocation else None})
    webhooks.emit(session, "interview.cancelled", interview_event(interview))
    if convocation is not None:
        enqueue(session, DISPATCH_JOB, {"convocations": [convocation.id]})
    session.commit()
    return interview


# --- reading ---------------------------------------------------------------------------------------------

def get(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("Campagne introuvable", f"Aucune campagne n'a l'identifiant {campaign_id}.")
    return campaign


def counts(session: Session, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """{campaign id: {status: count}}, every status present."""
    found = {campaign_id: dict.fromkeys(interviews.STATUSES, 0) for campaign_id in campaign_ids}
    for campaign_id, status, count in session.execute(
            select(Interview.campaign_id, Interview.status, func.count()).where(Interview.campaign_id.in_(campaign_ids))
            .group_by(Interview.campaign_id, Interview.status)):
        found[campaign_id][status] = count
    return found


def tracking(session: Session, campaign: Campaign, today: dt.date) -> dict[str, Any]:
    """Counts by status, by service and by manager, the groups with the most late interviews first. Late: still
    open although its day has passed, or still « à planifier » within a week of its day."""
    rows = session.execute(select(Interview.status, Interview.date, Employee.service, Employee.manager_matricule,
                                  Interview.interviewer_name)
                           .join(Employee, Employee.matricule == Interview.matricule)
                           .where(Interview.campaign_id == campaign.id)).all()
    by_service: dict[str, dict[str, int]] = {}
    by_manager: dict[str, dict[str, Any]] = {}
    for status, day, service, manager, interviewer in rows:
        late = status in interviews.OPEN and (day < today or (status == "to_plan" and day <= today + dt.timedelta(days=7)))
        for groups, key, extra in ((by_service, service, {}), (by_manager, manager or "", {"name": interviewer})):
            group = groups.setdefault(key, {**dict.fromkeys(interviews.STATUSES, 0), "late": 0, "total": 0, **extra})
            group[status] += 1
            group["total"] += 1
            group["late"] += int(late)

    def ordered(groups: dict[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
        return [{name: key or None, **value} for key, value in
                sorted(groups.items(), key=lambda kv: (-kv[1]["late"], kv[0]))]

    return {"by_status": counts(session, [campaign.id])[campaign.id], "by_service": ordered(by_service, "service"),
            "by_manager": ordered(by_manager, "manager")}
