"""The demo speaks for the sample campaign's employer unless the organisation is configured."""

from parcours.cli.service import demo_settings
from parcours.settings import Settings


def test_the_demo_takes_the_sample_employer_when_no_organisation_is_configured(tmp_path):
    assert demo_settings(Settings(instance_dir=tmp_path)).organisation == "Atelier Lumière"


def test_a_configured_organisation_is_kept_by_the_demo(tmp_path):
    assert demo_settings(Settings(instance_dir=tmp_path, organisation="Fonderie Bréval")).organisation == "Fonderie Bréval"
    assert Settings.from_env({"PARCOURS_ORGANISATION": "Fonderie Bréval"}).organisation == "Fonderie Bréval"
