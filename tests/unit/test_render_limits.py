"""Hostile templates: each refused in French, naming the limit and the paragraph, well under 2 s of CPU."""

import time

import pytest

from docgen.render import RenderError, render_docx
from docx_factory import docx_text, make_docx

HOSTILE = {
    "range": ("{% for i in range(10**9) %}x{% endfor %}", "range() limité à 10\u202f000 éléments"),
    "power": ("{{ 7**(10**8) }}", "puissance"),
    "repeat": ("{{ ('ab'*10**9)|length }}", "répétition « * »"),
    "nested loops": ("{% for i in range(9999) %}{% for j in range(9999) %}x{% endfor %}{% endfor %}",
                     "tours de boucle"),
    "recursive macro": ("{% macro f(n) %}{{ f(n+1) }}{% endmacro %}{{ f(1) }}", "appels imbriqués"),
    "exponential macro": ("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
                          "tours de boucle"),
    "recursive loop": ("{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}", "appels imbriqués"),
    "center": ("{{ 'x'|center(10**9) }}", "« center »"),
    "ljust": ("{{ 'x'.ljust(10**9) }}", "« ljust »"),
    "format": ("{{ '{:>999999999}'.format(1) }}", "« format »"),
    "percent": ("{{ '%999999999d' % 1 }}", "format « % »"),
    "replace": ("{{ ('a'*100000)|replace('a', 'a'*100000) }}", "« replace »"),
    "join": ("{% set l = ['a'*900000] %}{{ (l+l+l)|join }}", "« join »"),
    "float power": ("{{ 10.0**1000 }}", "nombre trop grand"),
    "list repeat": ("{{ ([1]*10**7)|length }}", "répétition"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_template_is_stopped_by_a_limit_in_french_quickly(name):
    payload, reason = HOSTILE[name]
    started = time.process_time()
    with pytest.raises(RenderError) as caught:
        render_docx(make_docx("Avant", payload, "Après"), {}, template_name="piege.docx", matricule="E0001")
    assert time.process_time() - started < 2
    error = caught.value
    assert error.limit and reason in str(error), str(error)
    assert "limite dépassée" in str(error) and "piege.docx" in str(error) and "E0001" in str(error)
    assert error.excerpt and payload[:12] in error.excerpt  # the paragraph that went past the limit


@pytest.mark.parametrize("payload", [
    "{{ ''.__class__ }}",
    "{{ salarie.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__ }}",
])
def test_a_sandbox_refusal_is_said_as_such_not_as_a_missing_value(payload):
    with pytest.raises(RenderError) as caught:
        render_docx(make_docx(payload), {"salarie": {"nom": "Martin"}}, template_name="piege.docx")
    assert "instruction interdite" in str(caught.value) and "n'est pas accessible" in str(caught.value)
    assert "manquante" not in str(caught.value) and "unsafe" not in str(caught.value)


def test_ordinary_loops_operators_and_formats_still_work():
    text = docx_text(render_docx(make_docx(
        "{% for i in range(3) %}{{ i }}{% if not loop.last %}-{% endif %}{% endfor %}",
        "{{ 2**10 }} {{ 'ab'*3 }} {{ '%05d' % 42 }} {{ '{:>4}'.format(7) }} {{ 'x'|center(5) }}|",
        "{% for f in formations %}{{ loop.index }}/{{ loop.length }} {{ f }} {% else %}aucune{% endfor %}",
        "{{ ['a', 'b']|join(', ') }} {{ 'a-b'|replace('-', ' et ') }}",
    ), {"formations": ["SST", "CACES"]}, template_name="essai.docx"))
    assert "0-1-2" in text
    assert "1024 ababab 00042    7   x  |" in text
    assert "1/2 SST 2/2 CACES" in text
    assert "a, b a et b" in text


def test_the_limits_are_per_document_so_a_renderer_renders_again_after_a_refusal():
    from docgen.render import DocxRenderer

    renderer = DocxRenderer(make_docx("{% for i in range(n) %}x{% endfor %}"), "essai.docx")
    with pytest.raises(RenderError):
        renderer.render({"n": 10**6})
    for _ in range(3):  # each document has its own budget: 3 × 9 000 steps pass
        assert "x" * 9000 in docx_text(renderer.render({"n": 9000}))
