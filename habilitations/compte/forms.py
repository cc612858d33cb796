from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.core.exceptions import ValidationError

from habilitations.backends import (
    REFUS_COMPTE_CLOTURE,
    REFUS_COMPTE_SUSPENDU,
    REFUS_PROVISOIRE_EXPIRE,
    REFUS_PROVISOIRE_UTILISE,
)
from habilitations.provisoire import provisoire_verifier
from portail.socle.forms import PortailForm, PortailFormMixin

MESSAGES_REFUS = {
    REFUS_COMPTE_CLOTURE: "Votre compte n'est pas ouvert (clôturé ou pas encore ouvert). Adressez-vous à votre administrateur.",
    REFUS_COMPTE_SUSPENDU: (
        "Votre compte est suspendu : il n'a servi à aucune connexion depuis un an. Demandez à votre "
        "administrateur partenaire de le rouvrir."
    ),
    REFUS_PROVISOIRE_EXPIRE: (
        "Votre mot de passe provisoire a expiré (il est valable 24 heures). Cliquez sur « Mot de passe oublié ? » "
        "pour en recevoir un nouveau."
    ),
    REFUS_PROVISOIRE_UTILISE: (
        "Ce mot de passe provisoire a déjà servi. Cliquez sur « Mot de passe oublié ? » pour en recevoir un nouveau."
    ),
}


# Un identifiant fait 10 caractères (20 en base) ; on tolère les espaces d'une recopie. Au-delà,
# ce n'en est pas un : refusé comme un identifiant inconnu, avant toute vérification (axes
# enregistrerait sinon l'échec dans une colonne de 255 caractères : une erreur serveur).
LONGUEUR_MAX_IDENTIFIANT_SAISI = 100


class ConnexionForm(PortailFormMixin, AuthenticationForm):
    error_messages = {
        "invalid_login": "Identifiant ou mot de passe incorrect.",
        "inactive": MESSAGES_REFUS[REFUS_COMPTE_CLOTURE],
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "characters"})
        self.renommer(username="Identifiant", password="Mot de passe")  # noqa: S106 (un libellé)

    def clean_username(self):
        identifiant = self.cleaned_data["username"]
        if len(identifiant) > LONGUEUR_MAX_IDENTIFIANT_SAISI:
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        return identifiant

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            # Le refus porte sur le couple identifiant / mot de passe : les deux champs sont
            # signalés invalides aux technologies d'assistance.
            for nom in ("username", "password"):
                self.fields[nom].widget.attrs["aria-invalid"] = "true"
            raison = getattr(self.request, "refus_connexion", None)
            if raison in MESSAGES_REFUS:
                raise ValidationError(MESSAGES_REFUS[raison], code=raison) from None
            raise


class _InterditProvisoireMixin:
    """Le mot de passe provisoire ne peut jamais devenir le mot de passe personnel (ASVS 6.4.1)."""

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("new_password1")
        provisoire = self.user.mot_de_passe_provisoire
        if password and provisoire and "new_password1" not in self.errors and provisoire_verifier(password, provisoire):
            self.add_error(
                "new_password1",
                ValidationError(
                    "Choisissez un mot de passe différent du mot de passe provisoire reçu par courriel.",
                    code="password_is_provisional",
                ),
            )
        return cleaned


AIDE_MOT_DE_PASSE = "Au moins 12 caractères ; une phrase de passe est bienvenue. Ni votre identifiant, ni votre nom."


class ChoisirMotDePasseForm(_InterditProvisoireMixin, PortailFormMixin, SetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.renommer(
            new_password1=("Nouveau mot de passe", AIDE_MOT_DE_PASSE),
            new_password2=("Confirmation du nouveau mot de passe", ""),
        )


class ChangerMotDePasseForm(_InterditProvisoireMixin, PortailFormMixin, PasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.renommer(
            old_password="Mot de passe actuel",  # noqa: S106 (un libellé)
            new_password1=("Nouveau mot de passe", AIDE_MOT_DE_PASSE),
            new_password2=("Confirmation du nouveau mot de passe", ""),
        )


class MotDePasseOublieForm(PortailForm):
    identifiant = forms.CharField(
        label="Identifiant", max_length=40, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )


class CodeOtpForm(PortailForm):
    code = forms.CharField(
        label="Code à usage unique",
        help_text="Les 6 chiffres affichés par votre application, ou un code de secours.",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].replace(" ", "").strip()


class ChangerEmailForm(PortailForm):
    # autocomplete : la personne saisit sa propre adresse (WCAG 1.3.5) ; les écrans de gestion,
    # où l'on saisit celle d'un autre, gardent autocomplete="off".
    email = forms.EmailField(
        label="Nouvelle adresse mail",
        error_messages={"invalid": "Saisissez une adresse mail valide, par exemple prenom.nom@organisme.fr."},
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    email_confirmation = forms.EmailField(
        label="Confirmation de la nouvelle adresse mail", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def __init__(self, *args, utilisateur, **kwargs):
        self.utilisateur = utilisateur
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        email, confirmation = cleaned.get("email"), cleaned.get("email_confirmation")
        if email and confirmation and email.lower() != confirmation.lower():
            self.add_error("email_confirmation", "Les deux adresses mail ne sont pas identiques.")
        elif email and email.lower() == self.utilisateur.email.lower():
            self.add_error("email", "C'est déjà l'adresse mail de votre compte.")
        return cleaned
