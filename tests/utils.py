import html


def texte(reponse) -> str:
    """Le HTML d'une réponse, entités décodées : ce que l'utilisateur lit."""
    return html.unescape(reponse.content.decode())
