"""Ce qu'une page offre à remplir, lu dans son HTML (``html.parser``) : les formulaires qui
envoient à cette même adresse, leurs champs ``<input>``, ``<select>`` et ``<textarea>``, les
valeurs des champs cachés et les options des listes. Un nouveau formulaire est ainsi couvert par
les gardes sans qu'on les modifie. Et les messages d'erreur affichés, pour vérifier leur langue."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit


@dataclass
class Champ:
    nom: str
    type: str = "text"
    valeur: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Formulaire:
    methode: str
    action: str
    champs: dict[str, Champ] = field(default_factory=dict)


class _Lecteur(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.formulaires: list[Formulaire] = []
        self.courant: Formulaire | None = None
        self.select: Champ | None = None
        self.erreurs: list[str] = []
        self.liens: list[str] = []
        self._profondeur_erreur = 0
        self._texte_erreur: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if self._profondeur_erreur:
            self._profondeur_erreur += 1
        elif {"fr-error-text", "fr-message--error", "fr-alert--error"} & set(classes):
            self._profondeur_erreur = 1
            self._texte_erreur = []
        if tag == "a" and a.get("href"):
            self.liens.append(a["href"])
        if tag == "form":
            self.courant = Formulaire((a.get("method") or "get").lower(), a.get("action") or "")
            self.formulaires.append(self.courant)
        elif self.courant is None or not a.get("name"):
            return
        elif tag == "input":
            type_ = (a.get("type") or "text").lower()
            if type_ in ("submit", "button", "image", "reset", "file"):
                if type_ == "submit":
                    self._ajouter(Champ(a["name"], "submit", a.get("value") or ""))
                return
            champ = self._ajouter(Champ(a["name"], type_, a.get("value") or ""))
            if type_ in ("radio", "checkbox") and a.get("value") is not None:
                champ.options.append(a["value"])
        elif tag == "button" and (a.get("type") or "submit") == "submit":
            self._ajouter(Champ(a["name"], "submit")).options.append(a.get("value") or "")
        elif tag == "textarea":
            self._ajouter(Champ(a["name"], "textarea"))
        elif tag == "select":
            self.select = self._ajouter(Champ(a["name"], "select"))
        if tag == "option" and self.select is not None and a.get("value") is not None:
            self.select.options.append(a["value"])

    def handle_endtag(self, tag):
        if self._profondeur_erreur:
            self._profondeur_erreur -= 1
            if not self._profondeur_erreur:
                texte = " ".join("".join(self._texte_erreur).split())
                if texte:
                    self.erreurs.append(texte)
        if tag == "form":
            self.courant = None
        elif tag == "select":
            self.select = None

    def handle_data(self, data):
        if self._profondeur_erreur:
            self._texte_erreur.append(data)
        if self.select is not None and self.courant is not None:
            pass

    def _ajouter(self, champ: Champ) -> Champ:
        assert self.courant is not None
        return self.courant.champs.setdefault(champ.nom, champ)


def lire(html: str) -> _Lecteur:
    lecteur = _Lecteur()
    lecteur.feed(html)
    return lecteur


def formulaires(html: str, chemin: str, methode: str) -> list[Formulaire]:
    """Les formulaires de cette méthode qui envoient à la page elle-même (pas la déconnexion
    du bandeau)."""
    return [
        f
        for f in lire(html).formulaires
        if f.methode == methode and (not f.action or urlsplit(f.action).path in ("", chemin)) and f.champs
    ]


# Les messages de Django et des bibliothèques qu'on ne doit jamais montrer en anglais.
ANGLAIS = re.compile(
    r"\b(This field|Enter a valid|Ensure this|Select a valid|is required|Null characters|whole number|"
    r"Invalid|invalid|characters|Please|must be|not allowed|Upload a valid)\b"
)


def parametres_de_liens(html: str, chemin: str) -> set[str]:
    """Les paramètres d'adresse que la page se renvoie à elle-même par ses liens
    (``?retirer=3``, ``?organisme=12``, ``?tri=nom``)."""
    from urllib.parse import parse_qs

    noms = set()
    for lien in lire(html).liens:
        morceaux = urlsplit(lien)
        if morceaux.path in ("", chemin) and morceaux.query:
            noms |= set(parse_qs(morceaux.query, keep_blank_values=True))
    return noms


def erreurs(html: str) -> list[str]:
    return lire(html).erreurs
