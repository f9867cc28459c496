"""Every error is application/problem+json, in French, including the ones Flask raises itself."""

from api_helpers import bearer


def test_unknown_address_and_wrong_method_are_problems(client):
    missing = client.get("/api/v1/nowhere")
    assert missing.status_code == 404 and missing.content_type == "application/problem+json"
    assert missing.json == {"type": "about:blank", "title": "Introuvable", "status": 404,
                            "detail": "Aucune ressource à cette adresse."}
    wrong = client.delete("/api/v1/openapi.json")
    assert wrong.status_code == 405 and wrong.content_type == "application/problem+json"
    assert "GET" in wrong.headers["Allow"]


def test_a_body_over_the_limit_is_a_413_problem(client, tokens, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/api/v1/tokens", data=b"{" + b" " * 5000 + b"}", content_type="application/json",
                           headers=bearer(tokens["admin"]))
    assert response.status_code == 413 and response.content_type == "application/problem+json"
    assert "1000 octets" in response.json["detail"]


def test_an_unexpected_error_is_a_500_problem_without_internals(client, app, tokens, monkeypatch):
    import parcours.http.api.tokens as module

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(module, "public", broken)
    response = client.get("/api/v1/tokens", headers=bearer(tokens["admin"]))
    assert response.status_code == 500 and response.content_type == "application/problem+json"
    assert "secret" not in response.get_data(as_text=True)
