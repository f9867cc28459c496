"""The child process that renders untrusted templates: its CPU, memory and wall-clock limits."""

import time

import pytest

from docgen.isolation import IsolatedRenderer, ProcessLimits
from docgen.render import RenderError, RenderLimits
from docx_factory import docx_text, make_docx

# The sandbox's own limits lifted, to reach the process's.
UNBOUNDED = RenderLimits(seconds=1000, steps=10**12, output=10**12, range=10**9, size=10**12, power_bits=10**12)


@pytest.fixture
def isolated():
    renderer = IsolatedRenderer(ProcessLimits(cpu_seconds=1, memory_bytes=600 << 20, wall_seconds=20), UNBOUNDED)
    yield renderer
    renderer.close()


def test_a_document_is_rendered_in_the_child_and_errors_come_back_as_render_errors(isolated):
    data = isolated.render(make_docx("Bonjour {{ salarie.nom }}"), "essai.docx", {"salarie": {"nom": "Martin"}})
    assert "Bonjour Martin" in docx_text(data)
    with pytest.raises(RenderError) as caught:
        isolated.render(make_docx("{{ salarie.poste }}"), "essai.docx", {"salarie": {}}, "E0001")
    assert caught.value.field == "salarie.poste" and caught.value.matricule == "E0001" and not caught.value.limit


def test_cpu_time_past_the_limit_kills_the_child_and_the_next_document_gets_a_new_one(isolated):
    started = time.monotonic()
    with pytest.raises(RenderError) as caught:
        isolated.render(make_docx("{% for i in range(10**8) %}{% endfor %}"), "piege.docx", {})
    assert caught.value.limit and "temps de calcul ou de mémoire" in str(caught.value)
    assert time.monotonic() - started < 10
    assert "ok" in docx_text(isolated.render(make_docx("ok"), "essai.docx", {}))


def test_memory_past_the_limit_is_a_limit(isolated):
    with pytest.raises(RenderError) as caught:
        isolated.render(make_docx("{{ ('ab' * 10**9)|length }}"), "piege.docx", {})
    assert caught.value.limit and "mémoire" in str(caught.value)


def test_wall_clock_past_the_limit_kills_the_child():
    renderer = IsolatedRenderer(ProcessLimits(cpu_seconds=60, wall_seconds=1), UNBOUNDED)
    try:
        started = time.monotonic()
        with pytest.raises(RenderError, match="plus de 1 s") as caught:
            renderer.render(make_docx("{% for i in range(10**8) %}{% endfor %}"), "piege.docx", {})
        assert caught.value.limit and time.monotonic() - started < 5
    finally:
        renderer.close()


def test_with_the_default_limits_the_sandbox_answers_first_in_french():
    renderer = IsolatedRenderer()
    try:
        with pytest.raises(RenderError, match="range\\(\\) limité"):
            renderer.render(make_docx("{% for i in range(10**9) %}x{% endfor %}"), "piege.docx", {})
    finally:
        renderer.close()
