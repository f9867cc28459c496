"""Dispatching jobs to a real Redis broker: after commit only, on the queue of the job's kind; the sweep
sends again what no message will run; a broker that does not answer costs the request nothing but a
warning. Each test has a redis-server of its own (never the shared one)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
import redis as redis_client
from sqlalchemy import update

from cluster import PARCOURS, ROOT, Redis
from parcours.container import Services
from parcours.jobs import distributed
from parcours.jobs.runner import _JOBS, dispatch_after_commit, enqueue, enqueue_many
from parcours.models import utcnow
from parcours.settings import Settings


@pytest.fixture
def broker(tmp_path):
    server = Redis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def services(tmp_path, broker):
    opened = Services.open(Settings(instance_dir=tmp_path / "instance", broker_url=broker.url, run_jobs=False))
    distributed.attach(opened)
    yield opened
    dispatch_after_commit(opened.db, None)
    opened.close()


def messages(broker: Redis) -> dict[str, list[list[int]]]:
    """The job ids each queue's waiting messages carry."""
    client = redis_client.Redis(port=broker.port)
    found = {}
    for queue in distributed.QUEUE_NAMES:
        found[queue] = [json.loads(_body(raw))[0][0] for raw in client.lrange(queue, 0, -1)]
    return found


def _body(raw: bytes) -> str:
    import base64

    return base64.b64decode(json.loads(raw)["body"]).decode()


def test_due_jobs_are_sent_after_commit_on_their_kind_s_queue_and_nothing_on_rollback(services, broker):
    with services.db.session() as session:
        chunk = enqueue(session, "batch_chunk", {"n": 1})
        mail = enqueue(session, "signature_reminder", {"n": 2})
        later = enqueue(session, "signature_expiry", {"n": 3}, run_at=utcnow() + dt.timedelta(days=3))
        session.flush()
        assert messages(broker) == {"batches": [], "deliveries": [], "mail": [], "anchors": []}  # not before commit
    with services.db.session() as session:
        enqueue_many(session, "webhook_delivery", [{"messages": []}] * 3)
    found = messages(broker)
    assert found["batches"] == [[chunk.id]] and found["mail"] == [[mail.id]] and found["anchors"] == []
    assert len(found["deliveries"]) == 1 and len(found["deliveries"][0]) == 3  # one message for a batched kind
    assert later.id not in {i for ids in found["mail"] for i in ids}  # the sweep's, when due

    session = services.db.new_session()
    enqueue(session, "batch_chunk", {"n": 4})
    session.flush()
    session.rollback()
    session.close()
    assert messages(broker)["batches"] == [[chunk.id]]


def test_the_sweep_sends_again_what_no_message_will_run_and_not_twice_in_a_row(services, broker):
    with services.db.session() as session:
        first = enqueue(session, "batch_chunk", {"n": 1})
        dead = enqueue(session, "batch_chunk", {"n": 2})
        session.flush()
        first_id, dead_id = first.id, dead.id
    # The runner holding `dead` died: its lease ran out.
    with services.db.session() as session:
        session.execute(update(_JOBS).where(_JOBS.c.id == dead_id).values(
            status="running", attempts=1, lease_until=utcnow() - dt.timedelta(seconds=1)))
    sweeper = distributed.Sweeper(services.db, distributed.make_celery(services.settings), 1.0)
    # The queue holds `first`'s message: only the expired job is sent again.
    assert sweeper.sweep() == [dead_id]
    assert sweeper.sweep() == []  # sent a moment ago
    # The broker lost every message (a restart): everything due is sent again.
    redis_client.Redis(port=broker.port).flushall()
    sweeper._sent.clear()
    assert sorted(sweeper.sweep()) == [first_id, dead_id]
    assert sorted(ids[0] for ids in messages(broker)["batches"]) == [first_id, dead_id]


def test_a_broker_that_does_not_answer_leaves_the_commit_standing(services, broker):
    broker.stop()
    with services.db.session() as session:
        job = enqueue(session, "batch_chunk", {"n": 1})
    with services.db.session() as session:
        assert session.get(type(job), job.id).status == "queued"  # written: the sweep sends it later


def test_the_worker_command_needs_a_broker_and_says_so_in_french(tmp_path):
    done = subprocess.run(PARCOURS + ["worker"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PARCOURS_INSTANCE_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "PARCOURS_BROKER_URL n'est pas défini" in done.stderr
    done = subprocess.run(PARCOURS + ["worker", "--queues", "lots"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "PARCOURS_INSTANCE_DIR": str(tmp_path),
                                           "PARCOURS_BROKER_URL": "redis://127.0.0.1:1/0"})
    assert done.returncode == 2 and "file inconnue : lots" in done.stderr


def test_worker_help_is_listed():
    done = subprocess.run([sys.executable, "-c", "from parcours.cli import main; main()", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert "worker" in done.stdout


def test_a_job_stuck_behind_other_messages_is_sent_again_once_per_stale_period(services, broker):
    import time

    with services.db.session() as session:
        behind = enqueue(session, "batch_chunk", {"n": 1})  # its message waits in the queue...
        session.flush()
        behind_id = behind.id
    redis_client.Redis(port=broker.port).flushall()  # ...was lost; another job's message waits instead
    sweeper = distributed.Sweeper(services.db, distributed.make_celery(services.settings), 1.0)
    sweeper.dispatch([(999_999, "batch_chunk")])
    assert sweeper.sweep() == []  # due for a moment only: the queue is busy, it waits its turn
    with services.db.session() as session:  # due for ten minutes
        session.execute(update(_JOBS).where(_JOBS.c.id == behind_id).values(
            run_at=utcnow() - dt.timedelta(minutes=10)))
    assert sweeper.sweep() == [behind_id]
    sweeper._sent[behind_id] = time.monotonic() - distributed.QUIET - 1
    assert sweeper.sweep() == []  # sent within the stale period: not again while the queue is busy
    sweeper._sent[behind_id] = time.monotonic() - distributed.STALE - 1
    assert sweeper.sweep() == [behind_id]
