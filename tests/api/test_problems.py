"""Every error is application/problem+json, in French, including the ones Flask raises itself."""

import pytest
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


@pytest.mark.parametrize("path", ["/api/v1/documents/2147483648", "/api/v1/batches/99999999999999999999",
                                  "/api/v1/signature-requests/9223372036854775808", "/api/v1/users/4294967296"])
def test_an_id_beyond_what_a_table_holds_is_404_not_500(client, tokens, path):
    response = client.get(path, headers=bearer(tokens["admin"] if "users" in path else tokens["hr"]))
    assert response.status_code == 404 and response.content_type == "application/problem+json"


@pytest.mark.parametrize("query, field", [("limit=%C2%B3", "limit"), ("cursor=99999999999999999999", "cursor"),
                                          ("cursor=%D9%A3", "cursor"), ("batch=2147483648", "batch"),
                                          ("batch=", "batch"), ("limit=0", "limit")])
def test_a_number_in_the_query_that_the_database_cannot_take_is_422_naming_it(client, tokens, query, field):
    response = client.get(f"/api/v1/documents?{query}", headers=bearer(tokens["hr"]))
    assert response.status_code == 422 and response.json["errors"][0]["field"] == field


def test_the_audit_cursor_and_the_headcount_refuse_what_is_not_a_number(client, tokens):
    assert client.get("/api/v1/audit/events?cursor=99999999999999999999999",
                      headers=bearer(tokens["auditor"])).status_code == 422
    assert client.get("/api/v1/employees/due?before=2027-03-31&effectif=%C2%B3",
                      headers=bearer(tokens["hr"])).status_code == 422


def test_json_nested_ten_thousand_deep_is_a_400_problem(client, tokens):
    body = "[" * 10_000 + "]" * 10_000
    response = client.post("/api/v1/interviews", data=body, content_type="application/json",
                           headers=bearer(tokens["hr"]))
    assert response.status_code == 400 and response.content_type == "application/problem+json"


def test_a_planning_file_in_any_office_encoding_is_read_not_a_500():
    from parcours.service.due import planning_from_csv

    # 0x81 is no character in Windows-1252: the byte that made a 500
    data = "matricule;date;heure;lieu\nE0003;2027-01-12;14:30;Salle \u201cA\u201d ".encode("cp1252") + b"\x81\n"
    assert planning_from_csv(data)["E0003"]["date"] == "2027-01-12"
    utf16 = "matricule;date;heure;lieu\nE0003;2027-01-12;14:30;Salle Fourvière\n".encode("utf-16")
    assert planning_from_csv(utf16)["E0003"]["lieu"] == "Salle Fourvière"


@pytest.mark.parametrize("path", ["/api/v1/batches?status=AAA", "/api/v1/batches?status=",
                                  "/api/v1/interviews?status=fait", "/api/v1/employees/due?before=2027-03-31&on="])
def test_a_filter_that_matches_no_state_is_422_not_an_empty_200(client, tokens, path):
    response = client.get(path, headers=bearer(tokens["hr"]))
    assert response.status_code == 422 and response.content_type == "application/problem+json", path


def test_a_nul_character_anywhere_is_422_naming_the_field_and_nothing_is_stored(client, tokens):
    """PostgreSQL cannot store U+0000 (it answered 500 to a token labelled "\\x00"): refused before any query."""
    made = client.post("/api/v1/tokens", json={"role": "hr", "label": "robot\x00"}, headers=bearer(tokens["admin"]))
    assert made.status_code == 422 and made.content_type == "application/problem+json"
    assert made.json["errors"] == [{"field": "label", "reason": "contient le caractère nul (U+0000)"}]
    listed = client.get("/api/v1/tokens", headers=bearer(tokens["admin"])).json
    assert not any("robot" in token["label"] for token in listed["items"])
    searched = client.get("/api/v1/employees?service=Prod%00", headers=bearer(tokens["hr"]))
    assert searched.status_code == 422 and searched.json["errors"][0]["field"] == "service"


def test_a_query_parameter_the_description_does_not_name_is_refused_with_the_known_ones(client, tokens):
    misspelt = client.get("/api/v1/interviews?statut=held", headers=bearer(tokens["hr"]))
    assert misspelt.status_code == 422 and misspelt.json["title"] == "Paramètres inconnus"
    [error] = misspelt.json["errors"]
    assert error["field"] == "statut" and "status" in error["reason"]
    assert client.get("/api/v1/interviews?status=held", headers=bearer(tokens["hr"])).status_code == 200


def test_an_id_beyond_what_a_table_holds_is_404_whatever_the_method(client, tokens):
    """Werkzeug answered 405 when the id converter refused a number: the address exists, the record does not."""
    response = client.patch("/api/v1/users/47618491161051", json={"active": True}, headers=bearer(tokens["admin"]))
    assert response.status_code == 404 and response.content_type == "application/problem+json"


def test_a_form_part_without_a_name_is_400_not_500(client, tokens):
    body = (b"--x\r\nContent-Disposition: form-data\r\n\r\n{}\r\n"
            b"--x\r\nContent-Disposition: form-data; name=\"template\"\r\n\r\nconvocation\r\n--x--\r\n")
    response = client.post("/api/v1/batches", data=body, content_type="multipart/form-data; boundary=x",
                           headers=bearer(tokens["hr"]))
    assert response.status_code == 400 and response.json["title"] == "Formulaire mal formé"


def test_allow_names_only_the_methods_an_address_answers(client, tokens):
    """/employees/import was also read as the employee « import »: Allow said GET, which answered 404."""
    wrong = client.get("/api/v1/employees/import", headers=bearer(tokens["hr"]))
    assert wrong.status_code == 405 and set(wrong.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert client.get("/api/v1/employees/importe", headers=bearer(tokens["hr"])).status_code == 404


def test_an_empty_cursor_is_the_first_page_and_an_empty_limit_a_mistake(client, tokens):
    auditor = bearer(tokens["auditor"])
    assert client.get("/api/v1/audit/events?cursor=", headers=auditor).status_code == 200
    refused = client.get("/api/v1/audit/events?limit=", headers=auditor)
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "limit"
    assert client.get("/api/v1/documents?cursor=", headers=bearer(tokens["hr"])).status_code == 200
