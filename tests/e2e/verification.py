"""Gardes communes à tous les parcours navigateur : ce qu'une page doit tenir quel que soit l'écran.

- ``ecouter_erreurs(page)`` : toute erreur de la console JavaScript et toute exception non
  interceptée sont relevées (la fixture ``navigateur`` l'appelle ; le test échoue à la fin s'il y en
  a eu une) ;
- ``verifier_page(page)`` : sur la page affichée, à 1280 px puis à 320 px de large, axe-core
  (WCAG 2.1 A et AA) ne trouve aucune violation grave ou critique, et la page n'est pas plus large
  que la fenêtre (aucun défilement horizontal de toute la page) ni aucun bloc du contenu n'en
  recouvre un autre ; chaque case à cocher et bouton
  radio DSFR est suivi de son label (sinon la case est invisible) ; chaque lien d'évitement mène
  à un élément de la page. Les parcours l'appellent sur
  chaque page qu'ils visitent.

axe-core est vendu dans ``tests/e2e/vendor/axe.min.js`` (paquet npm ``axe-core``, version
``AXE_VERSION``, licence MPL-2.0 dans ``axe-core-LICENSE.txt``) : les tests tournent hors ligne.
Pour le mettre à jour : ``npm pack axe-core@<version>`` puis copier ``package/axe.min.js``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

AXE_VERSION = "4.14.1"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
LARGEURS = (1280, 320)
HAUTEUR = 900
IMPACTS_BLOQUANTS = ("serious", "critical")
REGLES_WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@cache
def script_axe() -> str:
    texte = AXE.read_text(encoding="utf-8")
    assert f"axe v{AXE_VERSION}" in texte[:200], "tests/e2e/vendor/axe.min.js n'est pas la version épinglée"
    return texte


def ecouter_erreurs(page) -> list[str]:
    """Relève, dans la liste renvoyée, les erreurs de la console et les exceptions de la page."""
    erreurs: list[str] = []
    # Les documents eux-mêmes servis en erreur (404 hors périmètre…) : voulus, le test vérifie leur
    # statut. Chromium le signale aussi en console, parfois sans l'adresse du message ; une
    # ressource absente (script, style, image) reste une erreur.
    documents_en_erreur: set[str] = set()

    def reponse(response) -> None:
        if response.status >= 400 and response.request.is_navigation_request():
            documents_en_erreur.add(response.url)

    def console(message) -> None:
        if message.type != "error":
            return
        if (
            message.text.startswith("Failed to load resource")
            and (message.location.get("url") or page.url) in documents_en_erreur
        ):
            return
        erreurs.append(f"console ({page.url}) : {message.text}")

    page.on("response", reponse)
    page.on("console", console)
    page.on("pageerror", lambda exc: erreurs.append(f"exception ({page.url}) : {exc}"))
    return erreurs


def analyser_axe(page) -> list[dict]:
    """Les violations axe-core de la page affichée (toutes les gravités)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Évalué par le protocole de débogage, hors de la politique de sécurité du contenu du
        # portail (qui refuse tout script en ligne) : la page testée garde sa vraie CSP.
        page.evaluate(script_axe() + "\n;undefined")
    resultat = page.evaluate(
        "async (regles) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: regles},"
        " resultTypes: ['violations']}); return r.violations.map(v => ({id: v.id, impact: v.impact,"
        " aide: v.help, cibles: v.nodes.slice(0, 5).map(n => n.target.join(' ')), nombre: v.nodes.length})); }",
        REGLES_WCAG,
    )
    return resultat


def largeur_excedentaire(page) -> int:
    """De combien de pixels la page dépasse la fenêtre (0 : rien ne dépasse)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


# Le DSFR rend l'input des cases et boutons radio transparent et dessine la case dans le label qui
# le suit immédiatement (« input + label::before ») : sans ce label frère, la case est invisible.
CASES_SANS_LABEL_FRERE = """() => [...document.querySelectorAll('input[type=checkbox], input[type=radio]')]
  .filter(e => getComputedStyle(e).opacity === '0')
  .filter(e => !(e.nextElementSibling && e.nextElementSibling.tagName === 'LABEL' && e.nextElementSibling.htmlFor === e.id))
  .map(e => e.id || e.name)"""


# Un lien d'évitement (« Contenu », « Menu », « Pied de page ») mène à un élément de la page.
LIENS_D_EVITEMENT_ORPHELINS = """() => [...document.querySelectorAll('.fr-skiplinks a[href^="#"]')]
  .filter(a => !document.getElementById(a.getAttribute('href').slice(1)))
  .map(a => a.getAttribute('href'))"""


# Le script du DSFR démarre après le chargement et à chaque changement de largeur : il marque la
# racine (« data-fr-js ») et ses composants (« data-fr-js-modal »), et règle les fenêtres modales
# selon la largeur (menu d'en-tête : caché et nommé par « aria-labelledby » sur petit écran tant
# qu'il est fermé, affiché sans ce nom sur grand écran). Analysée juste après un envoi de formulaire, avant ce réglage,
# la page montrait un « aria-labelledby » sans rôle (CI du 30/11/2026, menu d'en-tête à 1 280 px) :
# une page à moitié initialisée, pas celle que voit l'utilisateur.
DSFR_DEMARRE = """() => !document.querySelector('script[src*="dsfr"]') || (
  document.documentElement.hasAttribute('data-fr-js')
  && [...document.querySelectorAll('.fr-modal')].every(m => m.hasAttribute('data-fr-js-modal')
     && (m.hasAttribute('role') || !m.hasAttribute('aria-labelledby') || !m.checkVisibility({visibilityProperty: true, opacityProperty: true}))))"""


# Rien dans le contenu ne se recouvre : deux blocs visibles (titres, paragraphes, éléments de
# liste, cartes, alertes, tableaux, boutons…) dont aucun ne contient l'autre ne partagent pas plus
# de 2 px dans les deux sens. La largeur seule ne le voit pas : sur l'Accueil AFAS, deux cartes
# DSFR empilées (hauteur 100 % chacune) dépassaient leur rangée et cachaient la liste des rôles.
BLOCS_SUPERPOSES = """() => {
  const blocs = [...document.querySelectorAll('main :is(h1,h2,h3,h4,h5,h6,p,li,dt,dd,.fr-card,.fr-alert,.fr-callout,table,.fr-pagination,.fr-btn,.fr-tag,.fr-badge,label,legend)')]
    .filter(e => e.checkVisibility({visibilityProperty: true, opacityProperty: true}))
    // Un volet DSFR replié (fil d'Ariane à 320 px, accordéon fermé) garde ses éléments rendus mais
    // cachés par sa hauteur nulle : ils ne recouvrent rien.
    .filter(e => !e.closest('.fr-collapse:not(.fr-collapse--expanded)'))
    .map(e => [e, e.getBoundingClientRect()])
    .filter(([e, r]) => r.width > 2 && r.height > 2);
  const trouves = [];
  for (let i = 0; i < blocs.length && trouves.length < 5; i++) {
    const [a, ra] = blocs[i];
    for (let j = i + 1; j < blocs.length && trouves.length < 5; j++) {
      const [b, rb] = blocs[j];
      if (a.contains(b) || b.contains(a)) continue;
      const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (x > 2 && y > 2) {
        const nom = e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') + ' « ' + (e.textContent || '').trim().slice(0, 40) + ' »';
        trouves.push(nom(a) + ' et ' + nom(b));
      }
    }
  }
  return trouves;
}"""


def attendre_dsfr(page) -> list[str]:
    """Le DSFR démarré et réglé pour la largeur ; sinon, au bout de 5 s, le problème (un script
    du DSFR qui ne démarre pas laisse des menus qui ne s'ouvrent pas)."""
    page.wait_for_load_state("load")
    try:
        page.wait_for_function(DSFR_DEMARRE, timeout=5000)
    except PlaywrightTimeoutError:
        etat = page.evaluate(
            "() => [document.documentElement.getAttributeNames().join(' '), "
            "[...document.querySelectorAll('.fr-modal')].map(m => m.id + ':' + m.getAttributeNames().join(' ')).join(' | ')]"
        )
        return [f"{page.viewport_size['width']} px : le DSFR n'a pas démarré en 5 s : {etat}"]
    return []


def problemes_page(page, largeurs: tuple[int, ...] = LARGEURS) -> list[str]:
    """Les problèmes de la page affichée à chaque largeur ; la taille de la fenêtre est rétablie."""
    problemes = attendre_dsfr(page)
    taille = page.viewport_size
    if orphelins := page.evaluate(LIENS_D_EVITEMENT_ORPHELINS):
        problemes.append(f"liens d'évitement vers une cible absente de la page : {orphelins}")
    if invisibles := page.evaluate(CASES_SANS_LABEL_FRERE):
        problemes.append(f"cases ou boutons radio invisibles (pas de label juste après l'input) : {invisibles}")
    try:
        for largeur in largeurs:
            page.set_viewport_size({"width": largeur, "height": HAUTEUR})
            problemes += attendre_dsfr(page)
            depasse = largeur_excedentaire(page)
            if depasse > 0:
                problemes.append(f"{largeur} px : la page est plus large que la fenêtre de {depasse} px")
            if superposes := page.evaluate(BLOCS_SUPERPOSES):
                problemes.append(f"{largeur} px : des blocs du contenu se recouvrent : {superposes}")
            for violation in analyser_axe(page):
                if violation["impact"] in IMPACTS_BLOQUANTS:
                    problemes.append(
                        f"{largeur} px : axe {violation['impact']} {violation['id']} — {json.dumps(violation, ensure_ascii=False)}"
                    )
    finally:
        if taille:
            page.set_viewport_size(taille)
    return problemes


def verifier_page(page, largeurs: tuple[int, ...] = LARGEURS) -> None:
    """Échoue si la page affichée a une violation axe grave ou critique, ou déborde de la fenêtre,
    à l'une des largeurs (1280 et 320 px par défaut)."""
    problemes = problemes_page(page, largeurs)
    assert not problemes, f"{page.url} :\n" + "\n".join(problemes)


def verifier_tableaux_entiers(page) -> None:
    """À la largeur courante, chaque tableau tient dans son cadre : toutes les colonnes se voient
    sans faire défiler (pour les listes principales à 1280 px)."""
    debordements = page.evaluate(
        "() => [...document.querySelectorAll('.fr-table__container')]"
        ".filter(c => c.scrollWidth > c.clientWidth).map(c => [c.getAttribute('aria-labelledby'), c.scrollWidth, c.clientWidth])"
    )
    assert not debordements, f"{page.url} : tableaux plus larges que leur cadre : {debordements}"
