/* The console's small behaviours, for every page (no build step, no dependency).

   Scrollable tables: a .table-wrap that scrolls sideways (a wide table on a narrow
   window) becomes a keyboard stop, a named region, so it can be scrolled with the
   arrow keys; one that fits is left out of the tab order. Checked again on resize. */
(function () {
  "use strict";

  function nameOf(wrap) {
    var caption = wrap.querySelector("caption");
    if (caption && caption.textContent.trim()) { return caption.textContent.trim(); }
    var section = wrap.closest("section[aria-labelledby]");
    if (section) {
      var heading = document.getElementById(section.getAttribute("aria-labelledby"));
      if (heading) { return heading.textContent.trim(); }
    }
    var previous = wrap.previousElementSibling;
    while (previous && !/^H[1-6]$/.test(previous.tagName)) { previous = previous.previousElementSibling; }
    return previous ? previous.textContent.trim() : "Table";
  }

  function markScrollables() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.dataset.fixedStop === undefined) {
        wrap.dataset.fixedStop = wrap.hasAttribute("tabindex") ? "1" : "0";
      }
      if (wrap.dataset.fixedStop === "1") { return; }
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        if (!wrap.hasAttribute("aria-label")) { wrap.setAttribute("aria-label", nameOf(wrap)); }
      } else if (wrap.getAttribute("tabindex") === "0") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
      }
    });
  }

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.cancelAnimationFrame(pending); }
    pending = window.requestAnimationFrame(markScrollables);
  });
  markScrollables();
}());
