// Comparison: "only differences" and printing without reloading. Without this script the
// toggle is a plain GET form and printing goes through the browser's menu.
(() => {
  "use strict";
  const comparison = document.querySelector("[data-comparison]");
  const toggle = document.querySelector("[data-compare-toggle]");
  if (comparison && toggle) {
    const box = toggle.querySelector("input[name=differences]");
    toggle.querySelectorAll("[data-catalogue-nojs]").forEach((button) => { button.hidden = true; });
    box.addEventListener("change", () => {
      const url = new URL(window.location.href);
      if (box.checked) {
        comparison.setAttribute("data-only-differences", "");
        url.searchParams.set("differences", "1");
      } else {
        comparison.removeAttribute("data-only-differences");
        url.searchParams.delete("differences");
      }
      if (!comparison.querySelector("tr[data-differs=false]") && !box.checked) {
        window.location.assign(url.toString()); // the page was sent without the equal rows
        return;
      }
      window.history.replaceState(null, "", url.toString());
    });
  }
  const print = document.querySelector("[data-print]");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", () => window.print());
  }
})();
