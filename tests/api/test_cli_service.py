"""`parcours init` and `parcours tokens`: tokens shown once, stored hashed, revocable."""

import re

from click.testing import CliRunner
from sqlalchemy import select

from parcours.cli import main
from parcours.db import Database
from parcours.models import ApiToken, Template


def run(tmp_path, *args):
    return CliRunner().invoke(main, list(args), env={"PARCOURS_INSTANCE_DIR": str(tmp_path / "inst")})


def test_init_creates_the_database_with_the_shipped_templates(tmp_path):
    result = run(tmp_path, "init")
    assert result.exit_code == 0, result.output
    db = Database(f"sqlite:///{tmp_path / 'inst' / 'parcours.sqlite3'}")
    with db.session() as session:
        names = set(session.scalars(select(Template.name)))
    db.dispose()
    assert {"convocation", "trame", "compte_rendu", "etat_des_lieux"} <= names


def test_tokens_are_created_listed_and_revoked(tmp_path):
    created = run(tmp_path, "tokens", "create", "--role", "hr", "--label", "SIRH paie")
    assert created.exit_code == 0, created.output
    token = re.search(r"prc_\S+", created.output).group(0)
    listing = run(tmp_path, "tokens", "list").output
    assert "SIRH paie" in listing and token not in listing
    db = Database(f"sqlite:///{tmp_path / 'inst' / 'parcours.sqlite3'}")
    with db.session() as session:
        stored = session.scalar(select(ApiToken))
        assert stored.token_hash != token and stored.role == "hr"
    db.dispose()
    assert run(tmp_path, "tokens", "revoke", "1").exit_code == 0
    assert "révoqué" in run(tmp_path, "tokens", "list").output
    assert run(tmp_path, "tokens", "revoke", "99").exit_code == 2


def test_a_misspelt_setting_stops_the_command(tmp_path):
    result = CliRunner().invoke(main, ["tokens", "list"], env={"PARCOURS_INSTANCE_DIRR": "x"})
    assert result.exit_code == 2 and "PARCOURS_INSTANCE_DIRR" in result.output
