"""E-mails come from the organisation, in French, with their HTML part and attachments intact."""

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
