"""Documents: find a template version, build an employee's context, render, convert and keep the versions."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from docgen.dataset import ContextError, Dataset, UnknownEmployeeError
from docgen.render import DocxRenderer
from docgen.values import CampaignValues, ValuesError, load_values, parse_company, parse_interview, parse_letter
from parcours import snapshot
from parcours.blobs import BlobStore
from parcours.container import Services
from parcours.errors import Invalid
from parcours.models import Document, DocumentVersion, Template, TemplateVersion
from parcours.service import audit, webhooks
from parcours.service.audit import Actor
from parcours.service.employees import dataset_for

# "entretien.date : la date …" -> field "entretien.date"; docgen's messages name the key first.
_FIELD_FIRST = re.compile(r"^([\w.\[\]]+) : (.+)$", re.S)


@dataclass(frozen=True)
class NewVersion:
    """What a generated document is made of, before it is stored."""

    matricule: str
    pdf: bytes
    pages: int
    snapshot: dict[str, Any]
    """The template context, dumped by parcours.snapshot."""
    docx: bytes | None = None


def find_template_version(session: Session, name: Any, number: Any = None) -> TemplateVersion:
    """The named template's version `number`, or its latest; 422 naming the field otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise Invalid("Valeurs invalides", errors=[{"field": "template", "reason": "nom de modèle obligatoire"}])
    if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
        raise Invalid("Valeurs invalides",
                      errors=[{"field": "template_version", "reason": "un numéro de version (entier ≥ 1) est attendu"}])
    template = session.scalar(select(Template).where(Template.name == name))
    if template is None:
        raise Invalid("Modèle introuvable", f"Aucun modèle ne s'appelle « {name} ».",
                      errors=[{"field": "template", "reason": "modèle inconnu", "value": name}])
    query = select(TemplateVersion).where(TemplateVersion.template_id == template.id)
    query = query.where(TemplateVersion.number == number) if number is not None else \
        query.order_by(TemplateVersion.number.desc()).limit(1)
    version = session.scalar(query)
    if version is None:
        raise Invalid("Version de modèle introuvable",
                      f"Le modèle « {name} » n'a pas de version {number}." if number else f"Le modèle « {name} » n'a aucune version.",
                      errors=[{"field": "template_version", "reason": "version inconnue", "value": number}])
    return version


def parse_values(raw: Any, timezone: str, *, per_employee: bool) -> CampaignValues:
    """The campaign values of a request; 422 naming the key on any error."""
    if not isinstance(raw, Mapping):
        raise Invalid("Valeurs invalides", errors=[{"field": "values", "reason": "un objet JSON est attendu"}])
    if not per_employee and "salaries" in raw:
        raise Invalid("Valeurs invalides", errors=[{
            "field": "values.salaries", "reason": "réservé aux lots : pour un document, donnez ses valeurs directement"}])
    # A logo given as text would be read as a path on the server: not from the API.
    per = raw.get("salaries")
    logos = [raw.get("societe")] + ([v.get("societe") for v in per.values() if isinstance(v, Mapping)]
                                    if isinstance(per, Mapping) else [])
    if any(isinstance(block, Mapping) and block.get("logo") is not None for block in logos):
        raise Invalid("Valeurs invalides", errors=[{
            "field": "values.societe.logo", "reason": "le logo n'est pas encore accepté par l'API"}])
    try:
        return load_values(raw, timezone=timezone)
    except ContextError as exc:
        raise values_problem(exc) from None


def check_common(values: CampaignValues, dataset: Dataset) -> None:
    """The common values alone must be right: a mistake there would fail every employee of a batch.

    Per-employee values (`salaries`) change the common ones; they do not complete them.
    """
    common = values.common
    try:
        for key in ("societe", "courrier", "entretien"):
            if common.get(key) is not None and not isinstance(common[key], Mapping):
                raise ValuesError(f"{key} : un objet est attendu")
        parse_company(common.get("societe") or {})
        parse_letter(common.get("courrier") or {})
        parse_interview(common.get("entretien") or {}, dataset, values.timezone)
    except ContextError as exc:
        raise values_problem(exc) from None


def values_problem(exc: ContextError, matricule: str | None = None) -> Invalid:
    """A 422 problem whose error names the key that docgen's message starts with."""
    return Invalid("Valeurs invalides", str(exc), errors=[value_error(exc, matricule)])


def value_error(exc: ContextError, matricule: str | None = None) -> dict[str, Any]:
    message = str(exc)
    match = _FIELD_FIRST.match(message)
    error: dict[str, Any] = {"field": f"values.{match.group(1)}", "reason": match.group(2)} if match else \
        {"field": "matricule" if isinstance(exc, UnknownEmployeeError) else "values", "reason": message}
    if matricule is not None:
        error["matricule"] = matricule
    return error


def interlocutors(values: CampaignValues) -> set[str]:
    """Matricules named as `entretien.interlocuteur`: their data must be loaded too."""
    blocks = [values.common, *values.per_employee.values()]
    found = set()
    for block in blocks:
        entretien = block.get("entretien")
        if isinstance(entretien, Mapping) and isinstance(entretien.get("interlocuteur"), str):
            found.add(entretien["interlocuteur"])
    return found


def employee_dataset(session: Session, matricules: Iterable[str] | None, values: CampaignValues) -> Dataset:
    """The employees (all when None) plus the interlocutors the values name."""
    if matricules is None:
        return dataset_for(session, None)
    return dataset_for(session, {*matricules, *interlocutors(values)})


@functools.lru_cache(maxsize=16)
def _renderer(blobs: BlobStore, sha256: str, name: str, timezone: str) -> DocxRenderer:
    return DocxRenderer(blobs.get(sha256), name, timezone=timezone)


def renderer_for(blobs: BlobStore, version: TemplateVersion, timezone: str) -> DocxRenderer:
    """A renderer per template version, kept: it parses and cleans the template once."""
    return _renderer(blobs, version.sha256, version.template.name, timezone)


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def generate_one(services: Services, session: Session, template_name: Any, template_number: Any, matricule: Any,
                 raw_values: Any, created_by: str | Actor) -> Stored:
    """Render and convert one document now; store it as a new Document with its version 1."""
    errors = []
    if not isinstance(matricule, str) or not matricule.strip():
        errors.append({"field": "matricule", "reason": "matricule obligatoire"})
    if raw_values is None:
        errors.append({"field": "values", "reason": "valeurs obligatoires (société, courrier, entretien…)"})
    if errors:
        raise Invalid("Valeurs invalides", errors=errors)
    version = find_template_version(session, template_name, template_number)
    values = parse_values(raw_values, services.settings.timezone, per_employee=False)
    dataset = employee_dataset(session, [matricule], values)
    if matricule not in dataset.employees:
        raise Invalid("Salarié introuvable", f"Aucun salarié n'a le matricule « {matricule} ».",
                      errors=[{"field": "matricule", "reason": "salarié inconnu", "value": matricule}])
    try:
        context = values.context(dataset, matricule)
    except ContextError as exc:
        raise values_problem(exc, matricule) from None
    docx = renderer_for(services.blobs, version, services.settings.timezone).render(context, matricule)
    pdf = services.converter().convert(docx)
    return store(session, services.blobs, version, NewVersion(matricule, pdf, page_count(pdf), snapshot.dump(context), docx),
                 created_by=created_by)


@dataclass(frozen=True)
class Stored:
    """A new document's first version, as its callers need it."""

    document_id: int
    pdf_sha256: str


_DOCUMENTS, _VERSIONS = Document.__table__, DocumentVersion.__table__


def store(session: Session, blobs: BlobStore, version: TemplateVersion | int, new: NewVersion, *,
          created_by: str | Actor, batch_id: int | None = None) -> Stored:
    """Blobs first, then the rows, in the caller's transaction."""
    return insert_all(session, version, [new], put_blobs(blobs, [new]), created_by=created_by, batch_id=batch_id)[0]


def put_blobs(blobs: BlobStore, news: Sequence[NewVersion]) -> list[tuple[str, str | None]]:
    """New documents' PDFs and DOCX stored together (content-addressed: writing them twice is harmless); their
    sha256."""
    digests = iter(blobs.put_all([blob for new in news for blob in (new.pdf, new.docx) if blob is not None]))
    return [(next(digests), next(digests) if new.docx is not None else None) for new in news]


def insert_all(session: Session, version: TemplateVersion | int, news: Sequence[NewVersion],
               shas: Sequence[tuple[str, str | None]], *, created_by: str | Actor,
               batch_id: int | None = None) -> list[Stored]:
    """The rows of new documents of one template version whose blobs are stored (`shas`, from put_blobs), in the
    caller's transaction. They go to their tables rather than through the ORM, as executemany (one statement on
    PostgreSQL; SQLite returns the ids of one row at a time): a batch stores one document per letter, and the
    ORM's flush was most of the CPU its recording took."""
    if not news:
        return []
    template_version_id = version if isinstance(version, int) else version.id
    by = audit.label(created_by)
    document_ids = session.execute(insert(_DOCUMENTS).returning(_DOCUMENTS.c.id, sort_by_parameter_order=True), [
        dict(matricule=new.matricule, template_version_id=template_version_id, batch_id=batch_id, created_by=by)
        for new in news]).scalars().all()
    session.execute(insert(_VERSIONS), [
        dict(document_id=document_id, number=1, kind="generated", docx_sha256=docx_sha, pdf_sha256=pdf_sha,
             pages=new.pages, template_version_id=template_version_id, snapshot=new.snapshot, created_by=by)
        for new, document_id, (pdf_sha, docx_sha) in zip(news, document_ids, shas)])
    audit.record_all(session, [
        audit.Entry("document.generated", "document", document_id, created_by, {
            "version": 1, "matricule": new.matricule, "template_version_id": template_version_id,
            "pdf_sha256": pdf_sha, "docx_sha256": docx_sha, "batch_id": batch_id})
        for new, document_id, (pdf_sha, docx_sha) in zip(news, document_ids, shas)])
    if batch_id is None:  # a batch's documents are announced once, by batch.completed
        for new, document_id in zip(news, document_ids):
            webhooks.document_generated(session, document_id, 1, new.matricule, template_version_id)
    return [Stored(document_id, pdf_sha) for document_id, (pdf_sha, _) in zip(document_ids, shas)]


def docx_of(services: Services, session: Session, row: DocumentVersion) -> bytes:
    """The version's DOCX: stored for single documents; rendered again from the snapshot for batch ones.

    The batch engine merges documents before converting them and never saves each DOCX; the snapshot
    and the immutable template version give back exactly the document that was converted.
    """
    if row.docx_sha256 is not None:
        return services.blobs.get(row.docx_sha256)
    version = session.get(TemplateVersion, row.template_version_id)
    renderer = renderer_for(services.blobs, version, services.settings.timezone)
    return renderer.render(snapshot.load(row.snapshot), row.document.matricule)
