"""La convention en PDF (« Télécharger PDF »), rendue par WeasyPrint.

Le document ne charge aucune ressource : feuille de style dans le gabarit, police DejaVu Sans du
système, et un récupérateur d'URL qui refuse tout protocole (ni réseau ni fichier), si bien
qu'une image ou une feuille ajoutée par mégarde fait échouer le rendu au lieu d'appeler dehors.

Le PDF rendu est gardé dans le cache partagé (Redis en production), sous l'empreinte SHA-256 du
HTML dont il est tiré (et de la version de WeasyPrint) : le HTML dit tout ce que le PDF montre
(parties, profils, dates, état, administrateurs, avenants, date d'édition), si bien que la
moindre modification de la convention, ou le jour qui change, donne une autre clé, et qu'un PDF
gardé est toujours exactement celui qu'on rendrait (WeasyPrint est déterministe : même HTML,
mêmes octets ; tests/conventions/test_detail_pdf.py). Rien à invalider. Mesuré à l'échelle
« nationale » : le HTML coûte 6 ms, WeasyPrint 100 ms à chaud et 0,7 à 1 s dans un processus
neuf (import, polices) ; le ticket 11 demande p95 ≤ 0,3 s. Le cache indisponible, on rend.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import importlib.metadata
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.template.loader import render_to_string

from conventions.services import mandat_ouvert
from portail.socle.cache_partage import ERREURS_CACHE
from portail.socle.dates import aujourdhui

logger = logging.getLogger(__name__)

# Un jour : la date d'édition change la clé chaque jour, une entrée plus vieille ne resservirait pas.
DUREE_CACHE_PDF = 24 * 3600

if TYPE_CHECKING:
    from conventions.models import Avenant, Convention, Mandat, Profil, Service


@dataclass(frozen=True)
class ServiceAccorde:
    service: Service
    profils: list[Profil]


@dataclass(frozen=True)
class ContenuConvention:
    """Ce que le détail de la convention et son PDF montrent, lu en quelques requêtes."""

    convention: Convention
    services: list[ServiceAccorde]
    administrateur: Mandat | None
    administrateur_prevu: bool
    mandats: list[Mandat]
    avenants: list[Avenant]
    cloturee: bool
    jour: datetime.date


def convention_contenu(convention: Convention, jour: datetime.date | None = None) -> ContenuConvention:
    """Profils accordés groupés par service, administrateur en fonction ce jour (ou, avant
    l'ouverture, celui que la convention nomme pour son premier jour), historique des mandats et
    avenants. ``convention`` doit venir avec sa Caf et son organisme (select_related)."""
    jour = jour or aujourdhui()
    services: list[ServiceAccorde] = []
    for profil in convention.profils.select_related("service").order_by("service__ordre", "service__code", "code"):
        if not services or services[-1].service.pk != profil.service_id:
            services.append(ServiceAccorde(service=profil.service, profils=[]))
        services[-1].profils.append(profil)
    administrateur = mandat_ouvert(convention, jour)
    prevu = administrateur is None and convention.date_ouverture > jour
    if prevu:
        administrateur = mandat_ouvert(convention, convention.date_ouverture)
    return ContenuConvention(
        convention=convention,
        services=services,
        administrateur=administrateur,
        administrateur_prevu=prevu,
        mandats=list(convention.mandats.select_related("administrateur", "avenant").order_by("date_ouverture", "pk")),
        avenants=list(convention.avenants.select_related("nouvel_administrateur").order_by("numero")),
        cloturee=convention.est_cloture(jour),
        jour=jour,
    )


def convention_pdf(convention: Convention) -> bytes:
    """Le PDF de la convention : parties, services et profils, dates, état, administrateurs,
    avenants, règles d'usage et bloc de signatures ; rendu une fois par contenu (voir plus haut)."""
    html = render_to_string("conventions/convention_pdf.html", {"contenu": convention_contenu(convention)})
    cle = cle_cache_pdf(html)
    try:
        pdf = cache.get(cle)
    except ERREURS_CACHE as exc:
        logger.warning("PDF de convention : cache indisponible (%s), rendu sans cache", type(exc).__name__)
        return pdf_rendre(html)
    if pdf is None:
        pdf = pdf_rendre(html)
        try:
            cache.set(cle, pdf, timeout=DUREE_CACHE_PDF)
        except ERREURS_CACHE as exc:
            logger.warning("PDF de convention : cache indisponible (%s), PDF non gardé", type(exc).__name__)
    return pdf


def cle_cache_pdf(html: str) -> str:
    return "convention-pdf:" + hashlib.sha256(f"{_version_weasyprint()}\n{html}".encode()).hexdigest()


@functools.cache
def _version_weasyprint() -> str:
    """Lue dans les métadonnées du paquet : importer WeasyPrint coûterait près d'une seconde au
    premier PDF d'un processus, même servi depuis le cache."""
    return importlib.metadata.version("weasyprint")


def pdf_rendre(html: str) -> bytes:
    """WeasyPrint, sans aucun accès réseau ni fichier."""
    # WeasyPrint (Pango, fontTools) coûte près d'une seconde à l'import : chargé au premier PDF.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    aucun_acces = URLFetcher(allowed_protocols=frozenset(), fail_on_errors=True)
    return HTML(string=html, url_fetcher=aucun_acces).write_pdf()
