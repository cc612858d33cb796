/* Progression d'un import d'utilisateurs : interroge chaque seconde l'adresse JSON donnée par
   l'attribut data-progression-url, met à jour la barre <progress> et le texte, puis recharge la
   page quand l'import n'est plus en cours (elle affiche alors le compte rendu).
   Aucune dépendance ; chargé par <script src nonce> (CSP stricte, aucun script en ligne). */
(function () {
  "use strict";

  var bloc = document.querySelector("[data-progression-url]");
  if (!bloc || !window.fetch) {
    return;
  }
  var adresse = bloc.getAttribute("data-progression-url");
  var barre = bloc.querySelector("progress");
  var texte = bloc.querySelector("[data-progression-texte]");
  var INTERVALLE = 1000;
  var INTERVALLE_ERREUR = 5000;

  function afficher(etat) {
    if (barre) {
      barre.max = Math.max(etat.total, 1);
      barre.value = etat.traites;
      barre.textContent = etat.pourcentage + " %";
    }
    if (texte) {
      texte.textContent =
        "Lignes traitées : " + etat.traites + " sur " + etat.total + " (" + etat.pourcentage + " %). " +
        "Comptes créés : " + etat.crees + ".";
    }
  }

  function interroger() {
    fetch(adresse, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (reponse) {
        if (!reponse.ok) {
          throw new Error("HTTP " + reponse.status);
        }
        return reponse.json();
      })
      .then(function (etat) {
        afficher(etat);
        if (etat.etat === "en_cours") {
          window.setTimeout(interroger, INTERVALLE);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        // Réseau coupé, session expirée… : on réessaie plus lentement ; « Actualiser » reste possible.
        window.setTimeout(interroger, INTERVALLE_ERREUR);
      });
  }

  window.setTimeout(interroger, INTERVALLE);
})();
