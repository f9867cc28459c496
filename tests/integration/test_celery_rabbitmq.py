"""The same setting with RabbitMQ (127.0.0.1:5672, the machine's server) instead of Redis: a virtual host
of the test's own, one HTTP process and one worker; the sample batch is made by the worker, and the
sweep reads RabbitMQ's queues. Skipped, saying why, where no RabbitMQ or rabbitmqctl answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from api_helpers import database
from cluster import Http, worker
from docgen.dataset import load_dataset_dir
from parcours import resources
from parcours.db import Database
from parcours.jobs import distributed
from parcours.service.employees import upsert_dataset
from parcours.service.tokens import create_token
from parcours.settings import Settings

pytestmark = pytest.mark.libreoffice
CAMPAIGN = json.loads((resources.SAMPLES / "campagne.json").read_text(encoding="utf-8"))


@pytest.fixture
def vhost():
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    name = f"parcours-test-{os.urandom(4).hex()}"
    made = subprocess.run(["rabbitmqctl", "add_vhost", name], capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        pytest.skip(f"RabbitMQ does not answer: {made.stderr.strip()[-300:]}")
    try:
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True,
                       capture_output=True, timeout=60)
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)


def test_a_batch_through_a_worker_on_rabbitmq(vhost, tmp_path):
    with database("postgresql", tmp_path) as url:
        env = {"PARCOURS_DATABASE_URL": url, "PARCOURS_BROKER_URL": vhost, "PARCOURS_PKI_PASSPHRASE": "secret",
               "PARCOURS_BLOB_STORE": "database", "PARCOURS_JOB_SWEEP_SECONDS": "1"}
        http = Http(tmp_path / "http", env)
        running = worker("worker", tmp_path / "worker", env)
        try:
            http.start()
            running.start()
            db = Database(url)
            with db.session() as session:
                token, _ = create_token(session, "hr", "test rabbitmq")
                upsert_dataset(session, load_dataset_dir(resources.SAMPLES).dataset)
            values = {key: value for key, value in CAMPAIGN.items() if key != "salaries"}
            status, batch = http.json("POST", "/batches", token, {"template": "convocation", "values": values})
            assert status == 202, batch
            final = http.wait(token, batch["id"], lambda b: b["pending"] == 0 and b["status"] != "running", 300)
            # E0001, the director, has no manager: his convocation fails, saying so; the others are made.
            assert (final["status"], final["done"], final["failed"]) == ("partially_completed", 24, 1), final
            sweeper = distributed.Sweeper(db, distributed.make_celery(Settings(broker_url=vhost)), 1.0)
            assert sweeper.waiting() == {name: 0 for name in distributed.QUEUE_NAMES}
            running.stop()  # no consumer: a message sent now waits, and the sweep sees it waiting
            # The worker's own sweep may have sent the due daily anchor just before it stopped: count from here.
            before = sweeper.waiting()
            sweeper.dispatch([(999_999, "audit_anchor")])
            assert sweeper.waiting() == {**before, "anchors": before["anchors"] + 1}
            assert (before["batches"], before["deliveries"], before["mail"]) == (0, 0, 0)
            db.dispose()
        finally:
            running.stop()
            http.stop()
