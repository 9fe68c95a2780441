// Subscription flow: live address availability and live order status. Pages work without it.
(function () {
  "use strict";

  function debounce(fn, delay) {
    var timer;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, delay);
    };
  }

  var form = document.getElementById("address-form");
  if (form) {
    var local = document.getElementById("local_part");
    var domain = document.getElementById("domain");
    var output = document.getElementById("address-availability");
    var check = debounce(function () {
      if (!local.value.trim()) {
        output.textContent = "";
        return;
      }
      var other = form.querySelector("input[name=choice][value=other]");
      if (other) other.checked = true;
      var url = form.dataset.checkUrl + "?" + new URLSearchParams({
        local_part: local.value.trim().toLowerCase(),
        domain: domain.value,
      });
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          output.textContent = data.address + " : " + data.message;
          output.className = "fr-message " + (data.available ? "fr-message--valid" : "fr-message--error");
        })
        .catch(function () { output.textContent = ""; });
    }, 400);
    local.addEventListener("input", check);
    domain.addEventListener("change", check);
  }

  function refresh() {
    var status = document.getElementById("order-status");
    if (!status || status.dataset.live !== "true") return;
    fetch(status.dataset.refreshUrl, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#order-status");
          if (fresh) status.replaceWith(fresh);
        }
        setTimeout(refresh, 2000);
      })
      .catch(function () { setTimeout(refresh, 5000); });
  }
  setTimeout(refresh, 2000);
})();
