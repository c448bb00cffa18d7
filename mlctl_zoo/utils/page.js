// Sortable tables and expandable rows for mlctl-zoo's self-contained HTML pages (no library, no network).
// table.sortable: click (or Enter on) a header to sort by that column; numbers sort as numbers (a cell's
// data-v holds its sort value), empty cells go last, a second click reverses. A table with one tbody per
// entry (a row and its detail row) moves the tbodies together. tr.expander toggles the row named by its
// data-detail attribute.
(function () {
  "use strict";
  function sortValue(row, idx, numeric) {
    var cell = row.cells[idx];
    if (!cell) return null;
    var v = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent.trim();
    if (numeric) {
      var n = parseFloat(v);
      return isNaN(n) ? null : n;
    }
    return v === "" ? null : v.toLowerCase();
  }
  function sortBy(table, th) {
    var heads = table.tHead.rows[0].cells;
    var idx = Array.prototype.indexOf.call(heads, th);
    var numeric = th.getAttribute("data-sort") === "num";
    var current = th.getAttribute("aria-sort");
    var dir = current ? (current === "ascending" ? "descending" : "ascending")
                      : (numeric ? "descending" : "ascending");
    Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var grouped = table.tBodies.length > 1;
    var items = grouped ? Array.prototype.slice.call(table.tBodies)
                        : Array.prototype.slice.call(table.tBodies[0].rows);
    var keyed = items.map(function (item, i) {
      return { v: sortValue(grouped ? item.rows[0] : item, idx, numeric), i: i, item: item };
    });
    keyed.sort(function (a, b) {
      if (a.v === null || b.v === null) return (a.v === null) - (b.v === null) || a.i - b.i;
      var c = numeric ? a.v - b.v : a.v.localeCompare(b.v);
      return (dir === "descending" ? -c : c) || a.i - b.i;
    });
    var parent = grouped ? table : table.tBodies[0];
    keyed.forEach(function (k) { parent.appendChild(k.item); });
  }
  function onActivate(el, fn) {
    el.addEventListener("click", fn);
    el.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fn(e); }
    });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    if (!table.tHead || !table.tBodies.length) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (th.getAttribute("data-sort") === "none") return;
      th.classList.add("sort");
      th.tabIndex = 0;
      th.title = th.title || "sort by this column";
      onActivate(th, function () { sortBy(table, th); });
    });
  });
  function toggle(tr, open) {
    var detail = document.getElementById(tr.getAttribute("data-detail"));
    if (!detail) return;
    var show = open === undefined ? detail.hidden : open;
    detail.hidden = !show;
    tr.setAttribute("aria-expanded", String(show));
  }
  document.querySelectorAll("tr.expander").forEach(function (tr) {
    tr.tabIndex = 0;
    onActivate(tr, function (e) {
      if (e.target.closest && e.target.closest("a, button, summary, input")) return;
      toggle(tr);
    });
  });
  document.querySelectorAll("button[data-expand]").forEach(function (b) {
    b.addEventListener("click", function () {
      var open = b.getAttribute("data-expand") === "all";
      document.querySelectorAll("tr.expander").forEach(function (tr) { toggle(tr, open); });
    });
  });
  // a link to #m3 (a model's row) opens its detail
  function openHash() {
    var el = location.hash && document.getElementById(location.hash.slice(1));
    if (el && el.classList.contains("expander")) toggle(el, true);
  }
  window.addEventListener("hashchange", openHash);
  openHash();
})();
