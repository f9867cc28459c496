"""The database: SQLAlchemy 2 models, one module per concern. Versions, blobs and audit events are
immutable; nothing here is deleted. Importing this package puts every table in `Base.metadata`."""

from parcours.models.audit import AuditAnchor, AuditEvent
from parcours.models.base import Base, UtcDateTime, utcnow
from parcours.models.campaigns import AcknowledgementLink, Campaign, Convocation, ConvocationMessage
from parcours.models.documents import Batch, BatchItem, Document, DocumentVersion, Template, TemplateVersion
from parcours.models.employees import Employee, Interview
from parcours.models.jobs import Job
from parcours.models.people import ApiToken, User, UserLink, UserSession
from parcours.models.reports import CopyLink, ReportContent
from parcours.models.signatures import SignatureRequest, Signer
from parcours.models.webhooks import WebhookAttempt, WebhookEndpoint, WebhookMessage

__all__ = [
    "AcknowledgementLink", "ApiToken", "AuditAnchor", "AuditEvent", "Base", "Batch", "BatchItem", "Campaign",
    "Convocation", "ConvocationMessage", "CopyLink", "Document", "DocumentVersion", "Employee", "Interview", "Job",
    "ReportContent", "SignatureRequest", "Signer", "Template", "TemplateVersion", "User", "UserLink",
    "UserSession", "UtcDateTime", "WebhookAttempt", "WebhookEndpoint", "WebhookMessage", "utcnow",
]
