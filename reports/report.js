/* SPDX-License-Identifier: Apache-2.0 */
/* The package table: sort by any column, filter by text, status, category and image. */
(function () {
  "use strict";
  var table = document.getElementById("package-table");
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var text = rows.map(function (row) { return row.textContent.toLowerCase(); });
  var filter = document.getElementById("filter");
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var shown = document.getElementById("shown");

  function apply() {
    var terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    rows.forEach(function (row, i) {
      var ok = terms.every(function (t) { return text[i].indexOf(t) !== -1; });
      selects.forEach(function (s) {
        if (ok && s.value && row.getAttribute("data-" + s.getAttribute("data-filter")) !== s.value) {
          ok = false;
        }
      });
      row.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = String(count);
  }

  var collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });
  function key(row, col) {
    var cell = row.cells[col];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  }
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, col) {
    var button = th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      var numeric = th.getAttribute("data-type") === "number";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var order = rows.map(function (row, i) { return i; });
      order.sort(function (a, b) {
        var x = key(rows[a], col), y = key(rows[b], col);
        var c = numeric ? (Number(x) - Number(y)) : collator.compare(x, y);
        return (asc ? c : -c) || a - b;
      });
      var frag = document.createDocumentFragment();
      order.forEach(function (i) { frag.appendChild(rows[i]); });
      tbody.appendChild(frag);
    });
  });

  filter.addEventListener("input", apply);
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  /* links elsewhere in the page (chart bars, license list) preset the filters */
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest ? ev.target.closest("[data-set-filter]") : null;
    if (!link) { return; }
    var spec = link.getAttribute("data-set-filter").split("=");
    filter.value = "";
    selects.forEach(function (s) { s.value = ""; });
    if (spec[0] === "text") { filter.value = spec.slice(1).join("="); }
    selects.forEach(function (s) {
      if (s.getAttribute("data-filter") === spec[0]) { s.value = spec.slice(1).join("="); }
    });
    apply();
  });
  apply();
}());
