"""E-mails come from the organisation, in French, with their HTML part and attachments intact."""

import datetime as dt
import email
import email.policy
import email.utils

from parcours.service import mail
from parcours.settings import Settings


def _parsed(message):
    return email.message_from_bytes(bytes(message), policy=email.policy.default)


def test_the_sender_is_the_organisation_at_its_address(tmp_path):
    settings = Settings(instance_dir=tmp_path, organisation="Atelier Lumière", mail_from="rh@atelier-lumiere.fr")
    parsed = _parsed(mail.build(settings, "a@example.org", "Objet", "Bonjour"))
    assert email.utils.parseaddr(str(parsed["From"])) == ("Atelier Lumière", "rh@atelier-lumiere.fr")
    assert parsed["Content-Language"] == "fr"


def test_a_display_name_in_mail_from_gives_way_to_the_organisation(tmp_path):
    settings = Settings(instance_dir=tmp_path, organisation="Atelier Lumière", mail_from="Autre <rh@example.org>")
    assert email.utils.parseaddr(mail.sender(settings)) == ("Atelier Lumière", "rh@example.org")


def test_html_and_attachments_travel_with_the_text(tmp_path):
    settings = Settings(instance_dir=tmp_path)
    invitation = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    message = mail.build(settings, "a@example.org", "Convocation", "Texte brut", html="<p>Texte <b>riche</b></p>",
                         attachments=[mail.Attachment("convocation.pdf", b"%PDF-1.7 fake"),
                                      mail.Attachment("invitation.ics", invitation,
                                                      "text/calendar; method=REQUEST")],
                         message_id="<stable@parcours.local>")
    parsed = _parsed(message)
    assert parsed["Message-ID"] == "<stable@parcours.local>"
    assert parsed.get_body(("plain",)).get_content().strip() == "Texte brut"
    assert "<b>riche</b>" in parsed.get_body(("html",)).get_content()
    files = {part.get_filename(): part for part in parsed.iter_attachments()}
    assert files["convocation.pdf"].get_content() == b"%PDF-1.7 fake"
    assert files["invitation.ics"].get_content_type() == "text/calendar"
    assert files["invitation.ics"].get_param("method") == "REQUEST"
    assert "METHOD:REQUEST" in files["invitation.ics"].get_content()


def test_the_signing_link_expires_on_a_date_and_time_written_in_words():
    # 17:05 UTC is 18:05 in Paris in January.
    expires = dt.datetime(2027, 1, 5, 17, 5, tzinfo=dt.timezone.utc)
    _, body = mail.signature_link(name="Moussa N'Diaye", role="salarie", document="Compte rendu",
                                  link="https://x/signer/t", expires_at=expires, timezone="Europe/Paris")
    assert "Ce lien est valable jusqu'au 5 janvier 2027 à 18 h 05 et ne sert qu'une fois." in body
    assert "05/01/2027" not in body and "18:05" not in body


def test_an_account_link_on_the_first_of_the_month_at_the_hour_reads_1er_and_18_h():
    _, body = mail.account_link(name="Claire Martin", purpose="invitation", link="https://x/compte/t",
                                expires_at=dt.datetime(2027, 3, 1, 17, 0, tzinfo=dt.timezone.utc),
                                timezone="Europe/Paris", organisation="Atelier Lumière")
    assert "valable jusqu'au 1er mars 2027 à 18 h et ne sert" in body
