"""Webhooks through the API: endpoints (admin only, secret shown once, rotation), the outbox, redelivery."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from sqlalchemy import func, select, update

from api_helpers import SharedPool, bearer
from parcours.app import create_app
from parcours.jobs.runner import JobRunner
from parcours.models import Job, TemplateVersion, utcnow
from parcours.service import batches as batch_service
from parcours.service import documents as document_service
from parcours.service import deliveries
from parcours.service import webhooks as service
from parcours.settings import Settings, SettingsError
from parcours.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from test_batches_api import start
from test_documents_api import PROBLEM, ensure_convocation
from webhooks.delivery import DeliveryResult

ENDPOINTS = "/api/v1/webhooks/endpoints"
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(instance_dir=tmp_path / "instance", database_url=database_url, run_jobs=False, workers=2,
                    webhook_allowed_hosts="127.0.0.1")


def create(client, tokens, **body):
    return client.post(ENDPOINTS, json={"url": HOOK, **body}, headers=bearer(tokens["admin"]))


def messages_of(app, endpoint_id=None) -> list[WebhookMessage]:
    with app.extensions["parcours"].db.session() as session:
        query = select(WebhookMessage).order_by(WebhookMessage.id)
        if endpoint_id is not None:
            query = query.where(WebhookMessage.endpoint_id == endpoint_id)
        return list(session.scalars(query))


def emit(app, type="document.generated", data=None) -> list[str]:
    with app.extensions["parcours"].db.session() as session:
        return [m.public_id for m in service.emit(session, type, data or {"document_id": 1})]


# --- endpoints -------------------------------------------------------------------------------------------

def test_an_endpoint_is_created_with_its_secret_shown_once(client, tokens):
    response = create(client, tokens, event_types=["document.generated", "batch.completed"], description="SIRH")
    assert response.status_code == 201, response.json
    endpoint = response.json
    assert endpoint["secret"].startswith("whsec_") and endpoint["secret_prefix"] == endpoint["secret"][:10]
    assert (endpoint["url"], endpoint["event_types"], endpoint["description"], endpoint["enabled"]) == (
        HOOK, ["document.generated", "batch.completed"], "SIRH", True)
    assert response.headers["Location"].endswith(f"/webhooks/endpoints/{endpoint['id']}")
    shown = client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=bearer(tokens["admin"])).json
    listed = client.get(ENDPOINTS, headers=bearer(tokens["admin"])).json["items"]
    assert "secret" not in shown and [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
    assert endpoint["secret"] not in str(listed) + str(shown)


def test_an_endpoint_without_event_types_receives_every_event(client, tokens):
    assert create(client, tokens).json["event_types"] is None


@pytest.mark.parametrize("body, field, reason", [
    ({"url": "ftp://example.com/hook"}, "url", "http"),
    ({"url": "http://10.0.0.8/hook"}, "url", "l'adresse 10.0.0.8 est refusée : c'est une adresse privée"),
    ({"url": "http://169.254.169.254/latest/meta-data/"}, "url", "métadonnées d'un hébergeur cloud"),
    ({"url": "http://[::1]:8000/hook"}, "url", "bouclage"),
    ({"url": ""}, "url", "obligatoire"),
    ({"url": HOOK, "event_types": ["document.signed"]}, "event_types", "type inconnu"),
    ({"url": HOOK, "event_types": []}, "event_types", "liste"),
    ({"url": HOOK, "description": 12}, "description", "texte"),
    ({"url": HOOK, "secret": "whsec_mine"}, "secret", "champ inconnu"),
])
def test_wrong_endpoints_are_422_naming_the_field(client, tokens, body, field, reason):
    response = client.post(ENDPOINTS, json=body, headers=bearer(tokens["admin"]))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["errors"][0]["field"] == field and reason in response.json["errors"][0]["reason"]


def test_an_endpoint_is_updated_disabled_enabled_again_and_deleted(client, tokens):
    endpoint_id = create(client, tokens).json["id"]
    url = f"{ENDPOINTS}/{endpoint_id}"
    admin = bearer(tokens["admin"])
    changed = client.patch(url, json={"event_types": ["batch.failed"], "description": "alertes",
                                      "url": "http://127.0.0.1:10/other"}, headers=admin).json
    assert (changed["event_types"], changed["description"], changed["url"]) == (
        ["batch.failed"], "alertes", "http://127.0.0.1:10/other")
    disabled = client.patch(url, json={"enabled": False}, headers=admin).json
    assert disabled["enabled"] is False and "test admin" in disabled["disabled_reason"]
    enabled = client.patch(url, json={"enabled": True}, headers=admin).json
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None
    assert client.patch(url, json={"enabled": "non"}, headers=admin).status_code == 422
    assert client.patch(url, json={"url": "http://192.168.0.1/"}, headers=admin).status_code == 422
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(url, headers=admin).status_code == 404
    assert client.get(ENDPOINTS, headers=admin).json["items"] == []
    assert client.delete(url, headers=admin).status_code == 404


def test_rotation_gives_a_new_secret_while_the_old_one_signs_for_24_hours(app, client, tokens):
    created = create(client, tokens).json
    rotated = client.post(f"{ENDPOINTS}/{created['id']}/rotate", headers=bearer(tokens["admin"]))
    assert rotated.status_code == 200
    new = rotated.json["secret"]
    assert new.startswith("whsec_") and new != created["secret"]
    until = dt.datetime.fromisoformat(rotated.json["previous_secret_until"])
    assert dt.timedelta(hours=23, minutes=59) < until - utcnow() <= dt.timedelta(hours=24)
    with app.extensions["parcours"].db.session() as session:
        endpoint = session.get(WebhookEndpoint, created["id"])
        assert service.signing_secrets(endpoint) == [new, created["secret"]]
        assert service.signing_secrets(endpoint, utcnow() + dt.timedelta(hours=25)) == [new]
    assert "secret" not in client.get(f"{ENDPOINTS}/{created['id']}", headers=bearer(tokens["admin"])).json


def test_the_event_catalogue_lists_every_event(client, tokens):
    types = [e["type"] for e in client.get("/api/v1/webhooks/event-types", headers=bearer(tokens["admin"])).json["items"]]
    assert types == ["document.generated", "batch.completed", "batch.failed", "signature_request.sent",
                     "signature_request.viewed", "signature_request.signed", "signature_request.completed",
                     "signature_request.refused", "signature_request.expired", "campaign.created",
                     "interview.planned", "interview.rescheduled", "interview.cancelled", "convocation.sent",
                     "convocation.acknowledged", "convocation.bounced", "document.delivered"]


@pytest.mark.parametrize("method, path", [
    ("get", ENDPOINTS), ("post", ENDPOINTS), ("get", f"{ENDPOINTS}/1"), ("patch", f"{ENDPOINTS}/1"),
    ("delete", f"{ENDPOINTS}/1"), ("post", f"{ENDPOINTS}/1/rotate"), ("get", f"{ENDPOINTS}/1/messages"),
    ("post", "/api/v1/webhooks/messages/msg_x/redeliver"), ("get", "/api/v1/webhooks/event-types"),
])
@pytest.mark.parametrize("role", ["hr", "auditor", None])
def test_only_administrators_manage_webhooks(client, tokens, method, path, role):
    headers = bearer(tokens[role]) if role else {}
    response = getattr(client, method)(path, json={}, headers=headers)
    assert response.status_code == (403 if role else 401) and response.mimetype == PROBLEM


def test_a_malformed_allow_list_stops_the_start(tmp_path):
    with pytest.raises(SettingsError, match="PARCOURS_WEBHOOK_ALLOWED_HOSTS"):
        create_app(Settings(instance_dir=tmp_path / "i", run_jobs=False, webhook_allowed_hosts="10.0.0.0/99"))


def test_the_allow_list_is_read_from_the_environment():
    settings = Settings.from_env({"PARCOURS_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1, sirh.interne"})
    assert settings.webhook_allowed_hosts == "127.0.0.1, sirh.interne"


# --- the outbox ----------------------------------------------------------------------------------------

def test_an_event_goes_to_every_enabled_endpoint_that_wants_it_with_one_job_each(app, client, tokens):
    everything = create(client, tokens).json["id"]
    batches_only = create(client, tokens, event_types=["batch.completed"]).json["id"]
    disabled = create(client, tokens).json["id"]
    client.patch(f"{ENDPOINTS}/{disabled}", json={"enabled": False}, headers=bearer(tokens["admin"]))
    emit(app, "document.generated")
    emit(app, "batch.completed", {"batch_id": 3})
    sent = [(m.endpoint_id, m.event_type) for m in messages_of(app)]
    assert sorted(sent) == sorted([(everything, "document.generated"), (everything, "batch.completed"),
                                   (batches_only, "batch.completed")])
    with app.extensions["parcours"].db.session() as session:
        jobs = session.scalars(select(Job).where(Job.kind == "webhook_delivery")).all()
        assert sorted(i for j in jobs for i, _ in j.payload["messages"]) == sorted(m.id for m in messages_of(app))


def test_events_of_one_transaction_share_a_job_per_endpoint(app, client, tokens, monkeypatch):
    monkeypatch.setattr(service, "JOB_SIZE", 3)
    first, second = create(client, tokens).json["id"], create(client, tokens).json["id"]
    with app.extensions["parcours"].db.session() as session:
        for n in range(5):
            service.emit(session, "document.generated", {"document_id": n})
    emit(app)  # another transaction: another job
    with app.extensions["parcours"].db.session() as session:
        sizes = sorted(len(j.payload["messages"]) for j in session.scalars(select(Job)))
    assert sizes == [1, 1, 2, 2, 3, 3]
    monkeypatch.setattr(deliveries, "deliver", lambda *a, **k: DeliveryResult(204, 1))
    run_jobs_here(app)
    assert {m.status for m in messages_of(app)} == {"delivered"} and len(messages_of(app)) == 12
    assert {m.endpoint_id for m in messages_of(app)} == {first, second}


def test_a_job_stops_at_a_failing_receiver_and_leaves_the_rest_for_later(app, client, tokens, monkeypatch):
    create(client, tokens)
    calls = []
    monkeypatch.setattr(deliveries, "deliver", lambda *a, **k: calls.append(1) or DeliveryResult(None, 15000, error="délai dépassé"))
    with app.extensions["parcours"].db.session() as session:
        for n in range(4):
            service.emit(session, "document.generated", {"document_id": n})
    run_jobs_here(app)  # the first attempt times out; the three others are left for the next step
    assert len(calls) == 1
    attempts = sorted(m.attempts for m in messages_of(app))
    assert attempts == [0, 0, 0, 1] and {m.status for m in messages_of(app)} == {"pending"}
    with app.extensions["parcours"].db.session() as session:
        later = [j.payload["messages"] for j in session.scalars(select(Job).where(Job.status == "queued"))]
    assert sorted(len(p) for p in later) == [1, 3]


def test_without_endpoints_an_event_writes_nothing(app):
    assert emit(app) == []
    assert messages_of(app) == []


def test_an_unknown_event_type_is_a_programming_error(app):
    with pytest.raises(ValueError, match="unknown webhook event type"):
        emit(app, "document.signed")


def test_the_payload_is_type_timestamp_and_data(app, client, tokens):
    create(client, tokens)
    emit(app, "batch.failed", {"batch_id": 9})
    body = json.loads(messages_of(app)[0].body)
    assert list(body) == ["type", "timestamp", "data"]
    assert body["type"] == "batch.failed" and body["data"] == {"batch_id": 9} and body["timestamp"].endswith("Z")


def test_an_event_of_a_rolled_back_transaction_is_not_in_the_outbox(app, client, tokens):
    create(client, tokens)
    with pytest.raises(RuntimeError):
        with app.extensions["parcours"].db.session() as session:
            service.emit(session, "document.generated", {"document_id": 1})
            raise RuntimeError("the change fails after the event was written")
    assert messages_of(app) == []
    with app.extensions["parcours"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_document_made_alone_announces_itself_with_ids_and_links(app, client, tokens):
    create(client, tokens)
    ensure_convocation(app)
    container = app.extensions["parcours"]
    with container.db.session() as session:
        version = session.scalar(select(TemplateVersion).order_by(TemplateVersion.id.desc()).limit(1))
        row = document_service.store(session, container.blobs, version,
                                     document_service.NewVersion("E0003", b"%PDF-1.7 fake", 1, {}), created_by="test")
        document_id, template_name = row.document_id, version.template.name
    data = json.loads(messages_of(app)[0].body)["data"]
    assert data["document_id"] == document_id and data["matricule"] == "E0003" and data["version"] == 1
    assert data["links"] == {"document": f"/api/v1/documents/{document_id}",
                             "pdf": f"/api/v1/documents/{document_id}/versions/1/pdf"}
    assert data["template"]["name"] == template_name


def run_jobs_here(app) -> None:
    container = app.extensions["parcours"]
    runner = JobRunner(container.db, container, 1)
    while (job_id := runner.claim()) is not None:
        runner.run(job_id)


class FakeGenerator:
    """Stands in for the batch engine: every document is "made" without LibreOffice."""

    def __init__(self, *args, **kwargs):
        pass

    def run_chunk(self, items):
        from docgen.batch import DocumentResult

        return [DocumentResult(item.key, pdf=b"%PDF-1.7 " + item.key.encode(), pages=1) for item in items]


def test_a_finished_batch_is_announced_once_not_each_of_its_documents(app, client, tokens, employees, monkeypatch):
    create(client, tokens)
    app.extensions["parcours"]._converter = SharedPool(None)
    monkeypatch.setattr(batch_service, "BatchGenerator", FakeGenerator)
    monkeypatch.setattr(deliveries, "deliver", lambda *a, **k: DeliveryResult(204, 1))
    batch_id = start(client, tokens["hr"], matricules=["E0002", "E0003", "E0004"]).json["id"]
    run_jobs_here(app)
    sent = [json.loads(m.body) for m in messages_of(app)]
    assert [m["type"] for m in sent] == ["batch.completed"]
    data = sent[0]["data"]
    assert (data["batch_id"], data["status"], data["total"], data["done"], data["failed"]) == (batch_id, "completed", 3, 3, 0)
    assert data["links"]["zip"] == f"/api/v1/batches/{batch_id}/zip"


def test_a_batch_failed_at_creation_is_announced_as_failed(app, client, tokens, employees):
    from test_documents_api import CAMPAIGN

    create(client, tokens, event_types=["batch.failed"])
    values = {**CAMPAIGN, "entretien": {**CAMPAIGN["entretien"], "date": "1990-01-01"}}
    batch_id = start(client, tokens["hr"], values=values, matricules=["E0002"]).json["id"]
    assert [json.loads(m.body)["data"]["batch_id"] for m in messages_of(app)] == [batch_id]


# --- messages, attempts, redelivery ---------------------------------------------------------------------

def test_messages_are_listed_with_their_attempts_and_redelivered_by_hand(app, client, tokens, monkeypatch):
    endpoint_id = create(client, tokens).json["id"]
    admin = bearer(tokens["admin"])
    monkeypatch.setattr(service, "POLICY", dataclasses.replace(service.POLICY, schedule=service.RetrySchedule((0, 0))))
    monkeypatch.setattr(deliveries, "deliver", lambda *a, **k: DeliveryResult(500, 12, "erreur interne"))
    [public_id] = emit(app)
    run_jobs_here(app)  # two attempts, then the message fails
    listed = client.get(f"{ENDPOINTS}/{endpoint_id}/messages", headers=admin).json["items"]
    assert [(m["id"], m["status"], m["attempts_count"]) for m in listed] == [(public_id, "failed", 2)]
    assert [(a["number"], a["status_code"], a["response_excerpt"]) for a in listed[0]["attempts"]] == [
        (1, 500, "erreur interne"), (2, 500, "erreur interne")]
    assert listed[0]["payload"]["type"] == "document.generated"
    assert client.get(f"{ENDPOINTS}/{endpoint_id}/messages?status=pending", headers=admin).json["items"] == []
    assert client.get(f"{ENDPOINTS}/{endpoint_id}/messages?status=lost", headers=admin).status_code == 422

    monkeypatch.setattr(deliveries, "deliver", lambda *a, **k: DeliveryResult(200, 3))
    again = client.post(f"/api/v1/webhooks/messages/{public_id}/redeliver", headers=admin)
    assert again.status_code == 202 and again.json["status"] == "pending"
    assert client.post(f"/api/v1/webhooks/messages/{public_id}/redeliver", headers=admin).status_code == 409
    run_jobs_here(app)
    [message] = client.get(f"{ENDPOINTS}/{endpoint_id}/messages", headers=admin).json["items"]
    assert (message["status"], message["attempts_count"], message["attempts"][-1]["status_code"]) == ("delivered", 3, 200)
    assert client.post("/api/v1/webhooks/messages/msg_unknown/redeliver", headers=admin).status_code == 404


def test_a_stale_delivery_job_does_nothing(app, client, tokens, monkeypatch):
    create(client, tokens)
    calls = []
    monkeypatch.setattr(deliveries, "deliver", lambda *a, **k: calls.append(1) or DeliveryResult(200, 1))
    emit(app)
    with app.extensions["parcours"].db.session() as session:
        session.execute(update(WebhookMessage).values(sequence=2))  # redelivered meanwhile, say
    run_jobs_here(app)
    assert calls == [] and messages_of(app)[0].status == "pending"


def test_attempts_kept_per_message_are_bounded(app, client, tokens, monkeypatch):
    create(client, tokens)
    monkeypatch.setattr(service, "POLICY", dataclasses.replace(
        service.POLICY, keep_attempts=3, schedule=service.RetrySchedule((0,) * 7)))
    monkeypatch.setattr(deliveries, "deliver", lambda *a, **k: DeliveryResult(503, 1, "x" * 5000))
    emit(app)
    run_jobs_here(app)
    [message] = messages_of(app)
    with app.extensions["parcours"].db.session() as session:
        kept = session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert message.attempts == 7 and message.status == "failed"
    assert [a.number for a in kept] == [5, 6, 7]
    assert all(len(a.response_excerpt) <= 1024 for a in kept)


def test_deleting_an_endpoint_fails_its_pending_messages_and_keeps_them(app, client, tokens):
    endpoint_id = create(client, tokens).json["id"]
    emit(app)
    client.delete(f"{ENDPOINTS}/{endpoint_id}", headers=bearer(tokens["admin"]))
    [message] = messages_of(app)
    assert (message.status, message.last_error) == ("failed", "point de réception supprimé")
    run_jobs_here(app)  # the job finds nothing to do
    assert messages_of(app)[0].attempts == 0


def test_messages_of_an_unknown_endpoint_are_404(client, tokens):
    assert client.get(f"{ENDPOINTS}/99/messages", headers=bearer(tokens["admin"])).status_code == 404


# --- deliveries by batches ---------------------------------------------------------------------------------

def emit_one_by_one(app, count: int) -> list[str]:
    """`count` events, each in its own transaction (a document generated through the API, say): a job each."""
    return [public_id for n in range(count) for public_id in emit(app, data={"document_id": n})]


def run_batch(app, lease_seconds: float = 20.0) -> list[int]:
    """Claim the due delivery jobs as the runner's delivery lane does, and run them in one call."""
    container = app.extensions["parcours"]
    runner = JobRunner(container.db, container, 1, lease=dt.timedelta(seconds=lease_seconds))
    claimed = runner.claim_many(frozenset({service.KIND}), deliveries.BATCH_JOBS)
    runner.run_many(claimed)
    return claimed


class Receiver:
    """Stands in for deliver(): answers by webhook-id (`answers`, else 204) and records what it was sent."""

    def __init__(self, answers: dict[str, DeliveryResult] | None = None) -> None:
        self.answers, self.sent = answers or {}, []

    def __call__(self, url, body, headers, **kwargs) -> DeliveryResult:
        self.sent.append(headers["webhook-id"])
        return self.answers.get(headers["webhook-id"], DeliveryResult(204, 1))


def commits_during(app, action) -> int:
    from sqlalchemy import event

    engine, count = app.extensions["parcours"].db.engine, []
    listener = lambda connection: count.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    try:
        action()
    finally:
        event.remove(engine, "commit", listener)
    return len(count)


def test_single_event_messages_are_delivered_by_one_call_in_a_few_transactions(app, client, tokens, monkeypatch):
    create(client, tokens)
    sent = emit_one_by_one(app, 40)
    with app.extensions["parcours"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 40  # a job per transaction
    receiver = Receiver()
    monkeypatch.setattr(deliveries, "deliver", receiver)
    claimed = []
    commits = commits_during(app, lambda: claimed.extend(run_batch(app)))
    assert len(claimed) == 40 and sorted(receiver.sent) == sorted(sent)
    assert {m.status for m in messages_of(app)} == {"delivered"}
    # One claim and the results written by groups, each group closing its jobs: before, every message
    # cost a result transaction of its own (and its job's claim).
    assert commits <= 20
    with app.extensions["parcours"].db.session() as session:
        assert {j.status for j in session.scalars(select(Job))} == {"done"}
        assert session.scalar(select(func.count()).select_from(WebhookAttempt)) == 40


def test_a_message_of_a_batch_that_fails_is_retried_alone_while_the_others_are_delivered(app, client, tokens,
                                                                                         monkeypatch):
    create(client, tokens)
    monkeypatch.setattr(service, "POLICY", dataclasses.replace(service.POLICY, schedule=service.RetrySchedule((0, 60))))
    sent = emit_one_by_one(app, 10)
    refused = sent[4]
    monkeypatch.setattr(deliveries, "deliver", Receiver({refused: DeliveryResult(422, 3, "schéma inconnu")}))
    run_batch(app)
    by_id = {m.public_id: m for m in messages_of(app)}
    assert {p for p, m in by_id.items() if m.status == "delivered"} == set(sent) - {refused}
    failed = by_id[refused]
    assert (failed.status, failed.attempts, failed.sequence, failed.last_status) == ("pending", 1, 2, 422)
    with app.extensions["parcours"].db.session() as session:
        queued = session.scalars(select(Job).where(Job.status == "queued")).all()
        assert [j.payload["messages"] for j in queued] == [[[failed.id, 2]]]  # its own next attempt, 60 s later
        assert session.scalar(select(func.count()).select_from(Job).where(Job.status == "done")) == 10
        session.execute(update(Job).values(run_at=utcnow()))
    receiver = Receiver()
    monkeypatch.setattr(deliveries, "deliver", receiver)
    run_batch(app)
    assert receiver.sent == [refused] and {m.status for m in messages_of(app)} == {"delivered"}


def test_a_receiver_down_defers_the_rest_of_the_batch_without_counting_attempts(app, client, tokens, monkeypatch):
    create(client, tokens)
    sent = emit_one_by_one(app, 6)
    receiver = Receiver({public_id: DeliveryResult(None, 15000, error="délai dépassé") for public_id in sent})
    monkeypatch.setattr(deliveries, "deliver", receiver)
    run_batch(app)
    assert len(receiver.sent) == 1  # the first attempt showed the receiver is down: no timeout for the others
    messages = messages_of(app)
    assert sorted(m.attempts for m in messages) == [0, 0, 0, 0, 0, 1] and {m.status for m in messages} == {"pending"}
    assert all(m.next_attempt_at > utcnow() for m in messages)
    with app.extensions["parcours"].db.session() as session:
        later = sorted(len(j.payload["messages"]) for j in session.scalars(select(Job).where(Job.status == "queued")))
        assert later == [1, 5]  # the attempted one's retry, and one job for the five left


def test_a_crash_mid_batch_sends_again_only_the_messages_whose_result_was_not_written(app, client, tokens,
                                                                                     monkeypatch):
    import threading
    import time

    create(client, tokens)
    sent = emit_one_by_one(app, 12)
    first_written, writes = threading.Event(), []
    commit = deliveries._Run._commit

    def crashing(self, group, final):
        writes.append(len(group))
        if len(writes) == 2:
            raise SystemExit("kill -9")  # the process dies: nothing more is written, nor the jobs released
        commit(self, group, final)
        first_written.set()

    def answer(url, body, headers, **kwargs):
        if len(first.sent) == 6:
            first_written.wait(10)  # the seventh is sent after the first group of results is written
        first.sent.append(headers["webhook-id"])
        return DeliveryResult(204, 1)

    first = Receiver()
    monkeypatch.setattr(deliveries, "deliver", answer)
    monkeypatch.setattr(deliveries._Run, "_commit", crashing)
    container = app.extensions["parcours"]
    dead = JobRunner(container.db, container, 1, lease=dt.timedelta(seconds=0.3))
    claimed = dead.claim_many(frozenset({service.KIND}), deliveries.BATCH_JOBS)
    with container.db.session() as session:
        jobs = session.scalars(select(Job).where(Job.id.in_(claimed))).all()
        session.expunge_all()
    with pytest.raises(SystemExit):
        deliveries.run_deliveries(container, jobs)  # called as the runner does, minus its failure handling
    written = {m.public_id for m in messages_of(app) if m.status == "delivered"}
    assert 0 < len(written) <= 6 and written <= set(first.sent)

    time.sleep(0.5)  # the dead runner's leases run out
    monkeypatch.setattr(deliveries._Run, "_commit", commit)
    second = Receiver()
    monkeypatch.setattr(deliveries, "deliver", second)
    run_batch(app)
    assert sorted(second.sent) == sorted(set(sent) - written)  # never a message whose result was written
    assert {m.status for m in messages_of(app)} == {"delivered"}
    with container.db.session() as session:
        assert {j.status for j in session.scalars(select(Job))} == {"done"}


def test_a_batch_for_an_endpoint_disabled_meanwhile_fails_its_messages_unsent(app, client, tokens, monkeypatch):
    endpoint_id = create(client, tokens).json["id"]
    emit_one_by_one(app, 3)
    client.patch(f"{ENDPOINTS}/{endpoint_id}", json={"enabled": False}, headers=bearer(tokens["admin"]))
    receiver = Receiver()
    monkeypatch.setattr(deliveries, "deliver", receiver)
    run_batch(app)
    assert receiver.sent == []
    assert {(m.status, m.last_error) for m in messages_of(app)} == {("failed", "point de réception désactivé")}


def test_events_of_several_endpoints_in_one_batch_are_handled_per_endpoint(app, client, tokens, monkeypatch):
    down, up = create(client, tokens).json["id"], create(client, tokens).json["id"]
    emit_one_by_one(app, 4)
    by_endpoint = {m.public_id: m.endpoint_id for m in messages_of(app)}

    def answer(url, body, headers, **kwargs):
        receiver.sent.append(headers["webhook-id"])
        return DeliveryResult(503, 2) if by_endpoint[headers["webhook-id"]] == down else DeliveryResult(204, 1)

    receiver = Receiver()
    monkeypatch.setattr(deliveries, "deliver", answer)
    run_batch(app)
    statuses = {(m.endpoint_id, m.status, m.attempts) for m in messages_of(app)}
    assert statuses == {(up, "delivered", 1), (down, "pending", 1), (down, "pending", 0)}
    assert sum(1 for public_id in receiver.sent if by_endpoint[public_id] == down) == 1
