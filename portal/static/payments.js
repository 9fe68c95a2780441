// Payment page: collects a card (with 3-D Secure) or a SEPA mandate with Stripe.js through a
// SetupIntent, then lets the server subscribe the payer. Works with Stripe and with a Stripe
// test server's replacement of Stripe.js (same calls).
(function () {
  "use strict";
  var root = document.getElementById("paiement-en-ligne");
  if (!root || typeof Stripe === "undefined") {
    return;
  }
  var stripe = Stripe(root.dataset.publishableKey);
  var elements = stripe.elements();
  var card = elements.create("card", { hidePostalCode: false });
  card.mount("#carte-element");
  var errorBox = document.getElementById("paiement-erreur");
  var statusBox = document.getElementById("paiement-statut");

  function show(box, text) {
    box.querySelector("p").textContent = text;
    box.hidden = false;
    box.setAttribute("tabindex", "-1");
    if (box === errorBox) {
      box.focus();
    }
  }

  function clear() {
    errorBox.hidden = true;
    statusBox.hidden = true;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrfToken },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () {
        return { status: "error", message: root.dataset.msgError };
      });
    });
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  function finish(result, button) {
    if (result.status === "paid" || result.status === "pending") {
      window.location.assign(result.redirect);
      return null;
    }
    if (result.status === "requires_action") {
      // The bank wants the payer to authenticate this payment too.
      return stripe.confirmCardPayment(result.client_secret).then(function (confirmation) {
        if (confirmation.error) {
          busy(button, false);
          show(errorBox, confirmation.error.message || String(confirmation.error));
          return null;
        }
        return post(root.dataset.verifyUrl).then(function (again) {
          return finish(again, button);
        });
      });
    }
    busy(button, false);
    show(errorBox, result.message || root.dataset.msgError);
    return null;
  }

  function pay(method, button, confirmSetup) {
    clear();
    busy(button, true);
    show(statusBox, root.dataset.msgWaiting);
    post(root.dataset.intentUrl, { method: method })
      .then(function (intent) {
        if (!intent.client_secret) {
          throw new Error(intent.message || root.dataset.msgError);
        }
        return confirmSetup(intent.client_secret);
      })
      .then(function (result) {
        if (result.error) {
          throw new Error(result.error.message || String(result.error));
        }
        return post(root.dataset.confirmUrl, { setup_intent: result.setupIntent.id });
      })
      .then(function (result) {
        return finish(result, button);
      })
      .catch(function (error) {
        busy(button, false);
        statusBox.hidden = true;
        show(errorBox, error.message);
      });
  }

  document.getElementById("form-carte").addEventListener("submit", function (event) {
    event.preventDefault();
    var name = document.getElementById("carte-nom").value.trim();
    pay("card", document.getElementById("bouton-carte"), function (secret) {
      return stripe.confirmCardSetup(secret, {
        payment_method: { card: card, billing_details: { name: name } },
      });
    });
  });

  document.getElementById("form-sepa").addEventListener("submit", function (event) {
    event.preventDefault();
    var name = document.getElementById("sepa-nom").value.trim();
    var email = document.getElementById("sepa-email").value.trim();
    var iban = document.getElementById("sepa-iban").value.replace(/\s+/g, "").toUpperCase();
    if (!name || !email || !iban) {
      clear();
      show(errorBox, root.dataset.msgMissing);
      return;
    }
    pay("sepa_debit", document.getElementById("bouton-sepa"), function (secret) {
      return stripe.confirmSepaDebitSetup(secret, {
        payment_method: { sepa_debit: { iban: iban }, billing_details: { name: name, email: email } },
      });
    });
  });
})();
