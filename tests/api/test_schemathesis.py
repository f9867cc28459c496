"""The API against its own OpenAPI document, by schemathesis: generated requests, valid and invalid, for every
operation, with each role's token and without one, and every check schemathesis has (no 5xx, only documented
statuses, content types and headers, bodies matching their schemas, invalid data refused, valid data accepted,
authentication honoured).

Bounded (PARCOURS_SCHEMATHESIS_EXAMPLES examples per operation, mode and role; derandomized, so a run is
repeatable) so that it stays within a few minutes; the service is the real one (the sample employees, the
shipped templates), called in-process through WSGI, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api_helpers import database
from parcours.app import create_app
from parcours.service.tokens import ROLES, create_token
from parcours.settings import Settings

EXAMPLES = int(os.environ.get("PARCOURS_SCHEMATHESIS_EXAMPLES", "8"))

BEYOND_THE_SCHEMA = {
    # Where a request can match the description and still be refused (422, in French, naming the field),
    # because what decides is stored data, a file's content or two fields together, which a schema cannot say:
    "POST /templates": "the file must be a Word document",
    "POST /employees/import": "the file must be a readable table of employees",
    "POST /verifications": "the file must be a PDF",
    "POST /documents": "the template and the employee must exist",
    "POST /batches": "the template and the employees must exist",
    "POST /batches/due": "the employees must exist and be due",
    "POST /campaigns": "the templates must exist; the period must not end before it starts",
    "POST /interviews": "the employee must exist; the date must fit the employment",
    "PATCH /interviews/{interview_id}": "the date must fit the employment",
    "POST /interviews/{interview_id}/move": "the new date must fit the employment",
    "GET /interviews": "« to » must not precede « from »",
    "GET /interviews/export": "« to » must not precede « from »",
    "GET /signature-requests": "« to » must not precede « from »",
    "GET /employees/due": "the horizon must not precede the reference date",
    "GET /employees/{matricule}/due": "the horizon must not precede the reference date",
    "POST /me/tokens": "a service account has no personal token",
    "POST /documents/{document_id}/signature-requests": "the signers' addresses must be deliverable",
    "POST /webhooks/endpoints": "the target must be a public address",
    "PATCH /webhooks/endpoints/{endpoint_id}": "the target must be a public address",
    "POST /users": "the address must be free",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def examples(backend):
    """Per operation, mode and role: half on PostgreSQL, which runs the same code and is there for what only
    it refuses (a NUL character in a text), to keep the suite's time."""
    return EXAMPLES if backend == "sqlite" else max(1, EXAMPLES // 2)


@pytest.fixture(scope="module")
def service(backend, tmp_path_factory):
    folder = tmp_path_factory.mktemp("schemathesis")
    with database(backend, folder) as url:
        app = create_app(Settings(instance_dir=folder / "instance", database_url=url, run_jobs=False, workers=2))
        from signing_flow import store_employees

        store_employees(app)
        tokens, kept = {}, set()
        with app.extensions["parcours"].db.session() as session:
            for role in ROLES:
                tokens[role], record = create_token(session, role, f"schemathesis {role}")
                session.flush()
                kept.add(record.id)
        yield app, tokens, kept
        app.extensions["parcours"].close()


@pytest.fixture(scope="module")
def api_schema(service):
    # No U+0000 in generated texts: the API refuses it everywhere (test_problems checks that), which a schema
    # cannot say short of a pattern on every string.
    config = SchemathesisConfig.from_dict({"generation": {"allow-x00": False}})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", service[0], config=config)


@pytest.mark.parametrize("role", (None, *ROLES), ids=lambda role: role or "anonyme")
def test_the_api_keeps_to_its_description(api_schema, service, examples, role):
    _, tokens, kept = service
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
    failures, calls, operations = [], 0, 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        excluded = [positive_data_acceptance] if operation.label in BEYOND_THE_SCHEMA else []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def exercise(case):
                nonlocal calls
                if case.path_parameters and case.path_parameters.get("token_id") in kept:
                    return  # revoking the tokens this test signs in with would leave it nothing to test
                calls += 1
                case.call_and_validate(headers=headers, excluded_checks=excluded)

            try:
                exercise()
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameter, no body): the positive run covered it
            except (Exception, BaseExceptionGroup) as failure:  # every operation's failure, not only the first
                failures.append(f"{operation.label} ({mode.value}): {failure}"[:3000])
    assert not failures, f"{len(failures)} failures\n\n" + "\n\n".join(failures)
    assert operations >= 80 and calls > operations * examples  # every operation was called, in both modes
