"""Templates: checked uploads stored as immutable numbered versions, the shipped ones, and previews."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from docgen import schema
from docgen.convert import ConverterPool
from docgen.isolation import IsolatedRenderer
from docgen.letters import assess as assess_batch_path
from docgen.package import UnsafePackage, check_docx
from docgen.render import Inspection, RenderError, inspect_template
from docgen.values import typed
from parcours import resources
from parcours.blobs import BlobStore
from parcours.db import Database
from parcours.errors import Conflict, Invalid
from parcours.models import Template, TemplateVersion

log = logging.getLogger(__name__)

SAMPLE_CONTEXT = resources.DOCUMENTS / "sample.json"
SHIPPED_BY = "Parcours"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_ATTEMPTS = 3  # a concurrent upload of the same name takes the number: try the next one
# Uploads are tried and previews made in a child process with CPU, memory and time limits.
ISOLATED = IsolatedRenderer()


class TemplateNotFound(LookupError):
    """No template of this name, or no such version of it."""


@dataclass(frozen=True)
class NewVersion:
    """A stored upload, and what the uploader should know about it."""

    version: TemplateVersion
    warnings: list[str]


# --- Reading ---------------------------------------------------------------------------------

def list_templates(session: Session) -> list[Template]:
    """Every template with its versions, by name."""
    return list(session.scalars(select(Template).options(selectinload(Template.versions)).order_by(Template.name)))


def get_template(session: Session, name: str) -> Template:
    template = session.scalar(select(Template).options(selectinload(Template.versions)).where(Template.name == name))
    if template is None:
        raise TemplateNotFound(f"Aucun modèle ne s'appelle « {name} ».")
    return template


def get_version(session: Session, name: str, number: int) -> TemplateVersion:
    version = session.scalar(select(TemplateVersion).join(Template)
                             .where(Template.name == name, TemplateVersion.number == number))
    if version is None:
        get_template(session, name)  # says which is missing: the template or the version
        raise TemplateNotFound(f"Le modèle « {name} » n'a pas de version {number}.")
    return version


# --- Writing ---------------------------------------------------------------------------------

@functools.cache
def known_fields() -> frozenset[str]:
    """The fields of the shipped sample context (parcours/resources/documents/sample.json) and the optional ones."""
    return frozenset(schema.known_fields(json.loads(SAMPLE_CONTEXT.read_text(encoding="utf-8"))))


def inspection_json(inspection: Inspection) -> dict[str, Any]:
    return {"variables": inspection.variables, "unknown": inspection.unknown,
            "problems": [{"message": p.message, "excerpt": p.excerpt} for p in inspection.problems]}


_inspections: dict[str, dict[str, Any]] = {}


def _inspect(data: bytes, digest: str, name: str) -> dict[str, Any]:
    # Inspection depends on the bytes only; the shipped templates are inspected at every start-up.
    cached = _inspections.get(digest)
    if cached is None:
        cached = inspection_json(inspect_template(data, name, set(known_fields())))
        verdict = assess_batch_path(data)
        cached["batch_path"] = {"one_section": verdict.one_section, "reason": verdict.reason}
        if len(_inspections) < 256:
            _inspections[digest] = cached
    return json.loads(json.dumps(cached))  # a copy: the row owns its JSON


def check_upload(data: bytes, name: str) -> dict[str, Any]:
    """The inspection of an acceptable template; Invalid for an unsafe or unrenderable one."""
    if not NAME.match(name):
        raise Invalid("Nom de modèle invalide", errors=[{
            "field": "name", "value": name,
            "reason": "lettres sans accents, chiffres, « _ » et « - » seulement (100 au plus)"}])
    try:
        check_docx(data)
    except UnsafePackage as exc:
        raise Invalid("Fichier refusé", str(exc), errors=[{"field": "file", "reason": str(exc)}]) from None
    inspection = _inspect(data, hashlib.sha256(data).hexdigest(), name)
    if inspection["problems"]:
        # A version with an error could never render: refuse it, every error at once with its context.
        raise Invalid("Le modèle contient des erreurs",
                      "Corrigez ces erreurs dans Word puis envoyez le fichier à nouveau.",
                      errors=[{"field": "file", "reason": p["message"], "excerpt": p["excerpt"]}
                              for p in inspection["problems"]])
    _try_rendering(data, name)
    return inspection


def _try_rendering(data: bytes, name: str) -> None:
    """Fill the template with the sample values in the limited child: one that goes past a limit
    (an endless loop, a huge value) is refused now, not in the middle of a batch."""
    try:
        ISOLATED.render(data, name, sample_context())
    except RenderError as exc:
        if exc.limit:
            raise Invalid("Le modèle dépasse les limites de remplissage",
                          "Simplifiez les boucles, macros ou calculs du modèle puis envoyez-le à nouveau.",
                          errors=[{"field": "file", "reason": exc.reason, "excerpt": exc.excerpt}]) from None
        # Other errors (a value the sample lacks) are the inspection's warnings, not a refusal.


def add_version(session: Session, blobs: BlobStore, name: str, data: bytes, filename: str,
                created_by: str) -> NewVersion:
    """Store `data` as the next version of template `name` (created if new); commits."""
    inspection = check_upload(data, name)
    digest = blobs.put(data)  # before the row: a row never points to a missing blob
    for attempt in range(_ATTEMPTS):
        try:
            version = _insert_version(session, name, digest, filename, len(data), inspection, created_by)
            session.commit()
            break
        except IntegrityError:
            session.rollback()
            if attempt == _ATTEMPTS - 1:
                raise Conflict("Envoi simultané",
                               f"D'autres versions du modèle « {name} » arrivent en même temps : réessayez.") from None
    warnings = [f"variable inconnue « {v} » : faute de frappe ? (elle manquera au remplissage)"
                for v in inspection["unknown"]]
    return NewVersion(version, warnings)


def _insert_version(session: Session, name: str, digest: str, filename: str, size: int,
                    inspection: dict[str, Any], created_by: str) -> TemplateVersion:
    template = session.scalar(select(Template).where(Template.name == name))
    if template is None:
        template = Template(name=name)
        session.add(template)
        session.flush()  # a concurrent creation of the same name fails here (unique name)
    last = session.scalar(select(func.max(TemplateVersion.number)).where(TemplateVersion.template_id == template.id))
    version = TemplateVersion(template=template, number=(last or 0) + 1, sha256=digest, filename=filename,
                              size=size, inspection=inspection, created_by=created_by)
    session.add(version)
    session.flush()
    return version


def name_and_number(session: Session, version_id: int) -> tuple[str, int]:
    """The template's name and the version's number of a template version."""
    name, number = session.execute(select(Template.name, TemplateVersion.number).join(TemplateVersion.template)
                                   .where(TemplateVersion.id == version_id)).one()
    return name, number


def existing_names(session: Session, names: list[str]) -> set[str]:
    return set(session.scalars(select(Template.name).where(Template.name.in_(names))))


def seed_shipped(db: Database, blobs: BlobStore, shipped: dict[str, Path] | None = None) -> list[str]:
    """Create each shipped template (parcours/resources/documents/*.docx, unless `shipped` names others)
    as version 1 unless one of its name exists.

    Two processes starting together may both try: the unique name lets one win, the other's
    IntegrityError is expected and ignored. Returns the names created by this call.
    """
    shipped = resources.shipped_documents() if shipped is None else shipped
    with db.session() as session:
        missing = sorted(set(shipped) - existing_names(session, list(shipped)))
    created = []
    for name in missing:
        data = shipped[name].read_bytes()
        digest = blobs.put(data)
        inspection = _inspect(data, digest, name)
        session = db.new_session()
        try:
            session.add(Template(name=name, versions=[TemplateVersion(
                number=1, sha256=digest, filename=shipped[name].name, size=len(data),
                inspection=inspection, created_by=SHIPPED_BY)]))
            session.commit()
            created.append(name)
        except IntegrityError:
            session.rollback()
            log.info("shipped template %s was created by another process", name)
        finally:
            session.close()
    return created


# --- Preview ---------------------------------------------------------------------------------

@functools.cache
def _sample_json() -> tuple[str, dict[str, Any]]:
    raw = SAMPLE_CONTEXT.read_bytes()
    return hashlib.sha256(raw).hexdigest(), json.loads(raw)


def sample_context() -> dict[str, Any]:
    """parcours/resources/documents/sample.json with its "AAAA-MM-JJ" dates and "HH:MM" times as date and time objects."""
    return typed(_sample_json()[1], times=True)


class PreviewCache:
    """Which blob holds the preview PDF of which template bytes.

    There is no column for it, so the map lives in memory (bounded, per process): after a restart
    the first preview of a version is converted again, then served from the blob store. The key is
    the template's sha256 with the sample's and the time zone, so a changed sample is never stale.
    """

    def __init__(self, size: int = 512) -> None:
        self._pdfs: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str], blobs: BlobStore) -> str | None:
        with self._lock:
            digest = self._pdfs.get(key)
            if digest is not None:
                self._pdfs.move_to_end(key)
        return digest if digest is not None and blobs.exists(digest) else None

    def put(self, key: tuple[str, str, str], digest: str) -> None:
        with self._lock:
            self._pdfs[key] = digest
            while len(self._pdfs) > self._size:
                self._pdfs.popitem(last=False)


PREVIEWS = PreviewCache()


def preview_pdf(version: TemplateVersion, blobs: BlobStore, converter: Callable[[], ConverterPool],
                timezone: str) -> bytes:
    """The version filled with the sample context, as PDF (RenderError, ConversionError otherwise).

    `converter` is called only on a cache miss, so a cached preview starts no LibreOffice.
    """
    key = (version.sha256, _sample_json()[0], timezone)
    cached = PREVIEWS.get(key, blobs)
    if cached is not None:
        return blobs.get(cached)
    template = blobs.get(version.sha256)
    docx = ISOLATED.render(template, version.template.name, sample_context(), timezone=timezone)
    pdf = converter().convert(docx)
    PREVIEWS.put(key, blobs.put(pdf))
    return pdf
