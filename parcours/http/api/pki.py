"""/api/v1/pki: the instance's root certificate and CRLs, public (no token): what a verifier needs."""

from __future__ import annotations

from flask import Blueprint, Response

from parcours.http.current import services
from parcours.service import pki as instance_pki

bp = Blueprint("pki", __name__)


def public(view):
    """Marks a route that needs no API token (read by the OpenAPI test)."""
    view.public = True
    return view


@bp.get("/pki/root.pem")
@public
def root_pem():
    return Response(instance_pki.root_pem(services().settings), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": "attachment; filename=parcours-root.pem"})


@bp.get("/pki/crl")
@public
def ca_crl():
    return Response(instance_pki.authority(services().settings).ca_crl, mimetype="application/pkix-crl")


@bp.get("/pki/root.crl")
@public
def root_crl():
    return Response(instance_pki.authority(services().settings).root_crl, mimetype="application/pkix-crl")


_PUBLIC = [{}]
OPENAPI = {"paths": {
    "/pki/root.pem": {"get": {"summary": "Certificat racine de l'autorité de signature de l'instance (public)",
                              "tags": ["pki"], "security": _PUBLIC,
                              "responses": {"200": {"description": "PEM", "content": {"application/x-pem-file": {}}}}}},
    "/pki/crl": {"get": {"summary": "Liste de révocation de l'autorité émettrice, DER, renouvelée chaque jour (public)",
                         "tags": ["pki"], "security": _PUBLIC,
                         "responses": {"200": {"description": "CRL DER", "content": {"application/pkix-crl": {}}}}}},
    "/pki/root.crl": {"get": {"summary": "Liste de révocation de la racine, DER (public)", "tags": ["pki"],
                              "security": _PUBLIC,
                              "responses": {"200": {"description": "CRL DER", "content": {"application/pkix-crl": {}}}}}},
}}
