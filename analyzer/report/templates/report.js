/* rmaplint HTML report: keyboard navigation between findings, and a filter on the index.
   Local script, no request of its own. */
(function () {
  "use strict";
  function anchors() {
    return Array.prototype.slice.call(document.querySelectorAll("a.fa, li[id^='p']"));
  }
  function flash(id) {
    if (!id) return;
    var el = document.getElementById(id);
    if (!el) return;
    var row = el.closest("tr") || el;
    row.classList.remove("flash");
    void row.offsetWidth;
    row.classList.add("flash");
  }
  function go(step) {
    var list = anchors();
    if (!list.length) return;
    var cur = decodeURIComponent(location.hash.slice(1));
    var i = list.findIndex(function (a) { return a.id === cur; });
    i = i < 0 ? (step > 0 ? 0 : list.length - 1) : (i + step + list.length) % list.length;
    location.hash = list[i].id;
  }
  window.addEventListener("hashchange", function () {
    flash(decodeURIComponent(location.hash.slice(1)));
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || (t && /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (e.key === "n" || e.key === "j") { go(1); e.preventDefault(); }
    else if (e.key === "p" || e.key === "k") { go(-1); e.preventDefault(); }
  });
  document.querySelectorAll("input.filter").forEach(function (inp) {
    var table = document.getElementById(inp.getAttribute("data-target"));
    if (!table) return;
    inp.addEventListener("input", function () {
      var q = inp.value.toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        tr.style.display = !q || tr.textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
      });
    });
  });
  if (location.hash) flash(decodeURIComponent(location.hash.slice(1)));
})();
