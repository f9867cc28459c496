"""The job runner: a claimed job is claimed once, a dead runner's job is taken back, a live one is kept."""

import datetime as dt
import threading
import time

from sqlalchemy import select

from parcours.jobs.runner import HANDLERS, JobRunner, enqueue
from parcours.models import Job, utcnow


def runner(app, lease_seconds=20.0) -> JobRunner:
    services = app.extensions["parcours"]
    return JobRunner(services.db, services, workers=1, lease=dt.timedelta(seconds=lease_seconds))


def add_job(app, kind="test_job") -> int:
    with app.extensions["parcours"].db.session() as session:
        job = enqueue(session, kind, {"n": 1})
        session.flush()
        return job.id


def test_a_job_is_claimed_by_one_runner_only(app):
    job_id = add_job(app)
    first, second = runner(app), runner(app)
    assert first.claim() == job_id
    assert second.claim() is None


def test_a_job_whose_lease_ran_out_is_claimed_again(app):
    job_id = add_job(app)
    dead = runner(app, lease_seconds=0.2)
    assert dead.claim() == job_id
    time.sleep(0.5)  # the claiming process "died": nobody renews its lease
    assert runner(app).claim() == job_id
    with app.extensions["parcours"].db.session() as session:
        assert session.get(Job, job_id).attempts == 2


def test_a_running_job_keeps_its_lease_through_the_heartbeat(app, monkeypatch):
    release = threading.Event()
    monkeypatch.setitem(HANDLERS, "slow_job", lambda services, job: release.wait(5))
    job_id = add_job(app, "slow_job")
    live = runner(app, lease_seconds=0.5)
    assert live.claim() == job_id
    thread = threading.Thread(target=live.run, args=(job_id,))
    thread.start()
    time.sleep(1.2)  # more than twice the lease: only the heartbeat keeps it
    assert runner(app).claim() is None
    release.set()
    thread.join()
    with app.extensions["parcours"].db.session() as session:
        assert session.get(Job, job_id).status == "done"


def test_a_failing_job_is_queued_again_later_with_its_error(app, monkeypatch):
    def broken(services, job):
        raise RuntimeError("LibreOffice a disparu")

    monkeypatch.setitem(HANDLERS, "broken_job", broken)
    job_id = add_job(app, "broken_job")
    worker = runner(app)
    assert worker.claim() == job_id
    worker.run(job_id)
    with app.extensions["parcours"].db.session() as session:
        job = session.scalar(select(Job).where(Job.id == job_id))
        assert job.status == "queued" and "LibreOffice a disparu" in job.last_error
        run_at = job.run_at if job.run_at.tzinfo else job.run_at.replace(tzinfo=dt.timezone.utc)
        assert run_at > utcnow()


def test_a_kind_with_a_lane_of_its_own_is_claimed_only_by_that_lane(app):
    slow = add_job(app, "batch_chunk_like")
    fast = add_job(app, "webhook_like")
    services = app.extensions["parcours"]
    laned = JobRunner(services.db, services, workers=1, lanes={"webhook_like": 4})
    assert laned.claim(frozenset({"webhook_like"})) == fast
    assert laned.claim(frozenset({"webhook_like"})) is None
    assert laned.claim() == slow  # the shared threads never take a laned kind


# --- kinds run by batches (webhook deliveries) ------------------------------------------------------------

def batched(monkeypatch, kind, size, handle, linger=0.0):
    from parcours.jobs.runner import BATCHES, Batching

    monkeypatch.setitem(HANDLERS, kind, handle)
    monkeypatch.setitem(BATCHES, kind, Batching(size, linger))


def test_a_batched_kind_is_claimed_and_run_many_jobs_per_call(app, monkeypatch):
    calls, done = [], threading.Event()

    def handle(services, jobs):
        calls.append(sorted(job.id for job in jobs))
        if sum(len(c) for c in calls) == 25:
            done.set()

    batched(monkeypatch, "batch_like", 10, handle, linger=0.01)
    ids = [add_job(app, "batch_like") for _ in range(25)]
    services = app.extensions["parcours"]
    laned = JobRunner(services.db, services, workers=1, lanes={"batch_like": 4}, tick=0.05)
    laned.start()
    try:
        assert done.wait(10)
    finally:
        laned.stop()
    assert calls == [ids[:10], ids[10:20], ids[20:]]  # one claim each, in order, one batch at a time
    with services.db.session() as session:
        assert {job.status for job in session.scalars(select(Job))} == {"done"}


def test_when_a_batch_fails_the_jobs_it_completed_stay_done_and_the_others_are_queued_again(app, monkeypatch):
    from parcours.jobs.runner import complete

    def handle(services, jobs):
        with services.db.session() as session:
            complete(session, jobs[0])
        raise RuntimeError("le destinataire a disparu")

    batched(monkeypatch, "batch_like", 10, handle)
    ids = [add_job(app, "batch_like") for _ in range(3)]
    worker = runner(app)
    assert worker.claim_many(frozenset({"batch_like"}), 10) == ids
    worker.run_many(ids)
    with app.extensions["parcours"].db.session() as session:
        jobs = {job.id: job for job in session.scalars(select(Job))}
    assert jobs[ids[0]].status == "done" and jobs[ids[0]].last_error is None
    assert all(jobs[i].status == "queued" and "le destinataire a disparu" in jobs[i].last_error for i in ids[1:])


def test_every_job_of_a_running_batch_keeps_its_lease_through_the_heartbeat(app, monkeypatch):
    release = threading.Event()
    batched(monkeypatch, "batch_like", 10, lambda services, jobs: release.wait(5))
    ids = [add_job(app, "batch_like") for _ in range(3)]
    live = runner(app, lease_seconds=0.5)
    assert live.claim_many(frozenset({"batch_like"}), 10) == ids
    thread = threading.Thread(target=live.run_many, args=(ids,))
    thread.start()
    time.sleep(1.2)  # more than twice the lease: only the heartbeat keeps them
    assert runner(app).claim_many(frozenset({"batch_like"}), 10) == []
    release.set()
    thread.join()
    with app.extensions["parcours"].db.session() as session:
        assert {session.get(Job, i).status for i in ids} == {"done"}
