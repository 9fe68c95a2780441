// Catalogue: refresh the results in place when a filter changes, and keep the comparison choice
// across pages. Without this script the page works the same through plain GET forms and links.
(() => {
  "use strict";
  const form = document.querySelector("[data-catalogue-filters]");
  if (!form || !window.fetch || !window.DOMParser || !window.history.pushState) return;

  const STORAGE_KEY = "catalogue-compare";
  const results = () => document.querySelector("[data-catalogue-results]");
  const announce = document.querySelector("[data-catalogue-announce]");
  let controller = null;
  let timer = null;

  // On a phone, fold the filters so the first offers are in view.
  const details = form.querySelector("details");
  if (details && window.matchMedia("(max-width: 47.99em)").matches) details.open = false;

  function hideNoJsButtons(root) {
    root.querySelectorAll("[data-catalogue-nojs]").forEach((button) => { button.hidden = true; });
  }

  function currentQuery() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (String(value).trim() !== "") params.append(key, value);
    }
    if (params.get("tri") === "pertinence") params.delete("tri");
    const query = params.toString();
    return form.action.split("?")[0] + (query ? "?" + query : "");
  }

  function selection() {
    try { return JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "[]"); } catch (e) { return []; }
  }
  function saveSelection(slugs) {
    try { window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(slugs)); } catch (e) { /* private mode */ }
  }

  function bindComparison() {
    const compare = document.querySelector("[data-catalogue-compare]");
    if (!compare) return;
    const max = Number(compare.dataset.max || 4);
    const status = compare.querySelector("[data-compare-status]");
    const boxes = Array.from(document.querySelectorAll("[data-compare]"));
    const chosen = selection();
    boxes.forEach((box) => { box.checked = chosen.includes(box.value); });
    const showStatus = (message) => { if (status) status.textContent = message; };
    if (chosen.length) showStatus(compare.dataset.statusSelected.replace("{n}", chosen.length));
    boxes.forEach((box) => box.addEventListener("change", () => {
      let slugs = selection();
      if (box.checked) {
        if (slugs.length >= max) {
          box.checked = false;
          showStatus(compare.dataset.statusTooMany);
          return;
        }
        if (!slugs.includes(box.value)) slugs.push(box.value);
      } else {
        slugs = slugs.filter((slug) => slug !== box.value);
      }
      saveSelection(slugs);
      showStatus(compare.dataset.statusSelected.replace("{n}", slugs.length));
    }));
    compare.addEventListener("submit", () => {
      // Offers ticked on other pages travel as hidden fields.
      compare.querySelectorAll("input[data-kept]").forEach((input) => input.remove());
      const onPage = new Set(boxes.map((box) => box.value));
      selection().filter((slug) => !onPage.has(slug)).forEach((slug) => {
        const input = document.createElement("input");
        input.type = "hidden"; input.name = "offres"; input.value = slug; input.dataset.kept = "";
        compare.appendChild(input);
      });
    });
  }

  function syncFacets(doc) {
    doc.querySelectorAll("[data-facet]").forEach((fresh) => {
      const mine = form.querySelector(`[data-facet="${CSS.escape(fresh.dataset.facet)}"]`);
      if (mine) mine.textContent = fresh.textContent;
    });
    doc.querySelectorAll("[data-catalogue-filters] select[name] option[value]").forEach((fresh) => {
      const name = fresh.closest("select").name;
      const mine = form.querySelector(
        `select[name="${CSS.escape(name)}"] option[value="${CSS.escape(fresh.value)}"]`
      );
      if (mine) mine.textContent = fresh.textContent;
    });
  }

  async function refresh(url, { push = true, fromForm = true } = {}) {
    if (controller) controller.abort();
    controller = new AbortController();
    const section = results();
    section.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, { signal: controller.signal, headers: { Accept: "text/html" } });
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.querySelector("[data-catalogue-results]");
      // A page with warnings or a field error is shown whole, so nothing is missed.
      if (!response.ok || !fresh || doc.querySelector("[data-testid=notices], .fr-input-group--error")) {
        window.location.assign(url);
        return;
      }
      section.replaceWith(fresh);
      if (fromForm) {
        syncFacets(doc);
      } else {
        const freshForm = doc.querySelector("[data-catalogue-filters]");
        if (freshForm) form.innerHTML = freshForm.innerHTML;
      }
      hideNoJsButtons(document);
      bindResults();
      if (push) window.history.pushState({ catalogue: true }, "", url);
      const title = fresh.querySelector("#resultats-titre");
      if (announce && title) announce.textContent = title.textContent;
      if (!fromForm && title) title.focus();
    } catch (error) {
      if (error.name !== "AbortError") window.location.assign(url);
    }
  }

  function bindResults() {
    const section = results();
    section.querySelectorAll("a[href^='/offres?'], a[href='/offres']").forEach((link) => {
      if (link.hasAttribute("download")) return;
      link.addEventListener("click", (event) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey) return;
        event.preventDefault();
        refresh(link.href, { fromForm: false });
      });
    });
    const sort = document.getElementById("tri");
    if (sort) sort.addEventListener("change", () => refresh(currentQuery()));
    bindComparison();
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "prix_max") return; // typed: wait for the form to be sent
    refresh(currentQuery());
  });
  form.addEventListener("input", (event) => {
    if (event.target.name !== "prix_max") return;
    window.clearTimeout(timer);
    timer = window.setTimeout(() => refresh(currentQuery()), 700);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh(currentQuery());
  });
  window.addEventListener("popstate", () => refresh(window.location.href, { push: false, fromForm: false }));

  hideNoJsButtons(document);
  bindResults();
})();
