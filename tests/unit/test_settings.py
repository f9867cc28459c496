"""Settings from PARCOURS_* variables: defaults that work, and errors at start-up naming the variable."""

from pathlib import Path

import pytest

from parcours.settings import Settings, SettingsError


def test_defaults_need_nothing_and_put_everything_in_the_instance_folder():
    settings = Settings.from_env({})
    assert settings.resolved_database_url.startswith("sqlite:///") and settings.resolved_database_url.endswith(
        "instance/parcours.sqlite3")
    assert settings.resolved_blob_dir == Path("instance/blobs")


def test_variables_are_parsed_by_type():
    settings = Settings.from_env({"PARCOURS_WORKERS": "3", "PARCOURS_RUN_JOBS": "off",
                                  "PARCOURS_INSTANCE_DIR": "/srv/parcours", "PARCOURS_CONVERSION_TIMEOUT": "30.5"})
    assert (settings.workers, settings.run_jobs, settings.instance_dir, settings.conversion_timeout) == (
        3, False, Path("/srv/parcours"), 30.5)


@pytest.mark.parametrize("environ, message", [
    ({"PARCOURS_WORKER": "2"}, "PARCOURS_WORKER: unknown setting"),
    ({"PARCOURS_WORKERS": "deux"}, "PARCOURS_WORKERS"),
    ({"PARCOURS_RUN_JOBS": "peut-être"}, "PARCOURS_RUN_JOBS"),
    ({"PARCOURS_TIMEZONE": "Europe/Lyon"}, "PARCOURS_TIMEZONE"),
    ({"PARCOURS_MAX_UPLOAD_BYTES": "0"}, "PARCOURS_MAX_UPLOAD_BYTES"),
])
def test_a_wrong_setting_is_an_error_naming_the_variable(environ, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().workers = 4
