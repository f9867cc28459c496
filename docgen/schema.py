"""The dotted field paths a template may use, to tell a typo in a template from a real field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields that build_context gives only in some cases, so a sample context may lack them.
OPTIONAL_FIELDS = frozenset({
    "societe.logo", "courrier.reference",
    "entretien.reprise.motif", "entretien.reprise.libelle", "entretien.reprise.date_debut",
    "entretien.reprise.date_fin", "entretien.reprise.parental", "entretien.reprise.retour",
    "entretien.fin_mandat", "entretien.lien_visio", "entretien.lieu", "societe.effectif_mesure_le",
    "etat_des_lieux.abondement.versement_avant", "etat_des_lieux.entretiens_refuses[].date",
    "etat_des_lieux.entretiens_refuses[].type", "etat_des_lieux.entretiens_refuses[].libelle",
    "etat_des_lieux.entretiens_refuses[].statut", "etat_des_lieux.entretiens_refuses[].statut_libelle",
    "salarie.date_dernier_entretien", "manager.civilite", "manager.nom", "manager.prenom",
    "manager.poste", "manager.email", "compte_rendu.remise.date", "compte_rendu.remise.mode",
})


def field_paths(context: Mapping[str, Any]) -> set[str]:
    """Every path of a context: `salarie.nom`, `salarie.formations`, `salarie.formations[].intitule`."""
    paths: set[str] = set()

    def walk(value: Any, path: str) -> None:
        if path:
            paths.add(path)
        if isinstance(value, Mapping):
            for key, child in value.items():
                walk(child, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for child in value:
                walk(child, f"{path}[]")

    walk(context, "")
    return paths


def known_fields(sample_context: Mapping[str, Any]) -> set[str]:
    """The fields of a complete sample context plus the optional ones."""
    return field_paths(sample_context) | OPTIONAL_FIELDS
