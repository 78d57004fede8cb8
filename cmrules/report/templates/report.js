// Progressive enhancement only: the report reads the same without it.
(function () {
  "use strict";
  // sort the vendors × criteria heatmap by a column (flagged share, then name)
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var desc = th.getAttribute("aria-sort") !== "descending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", desc ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute("data-sort") || a.cells[col].textContent;
          var y = b.cells[col].getAttribute("data-sort") || b.cells[col].textContent;
          var nx = parseFloat(x), ny = parseFloat(y);
          var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return desc ? -r : r;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  // filter a clients × criteria grid by name, or to clients with a flag
  document.querySelectorAll(".tools").forEach(function (tools) {
    var grid = document.getElementById(tools.getAttribute("data-grid"));
    var text = tools.querySelector("input[type=search]");
    var only = tools.querySelector("input[type=checkbox]");
    var count = tools.querySelector("output");
    if (!grid || !text || !only) { return; }
    function apply() {
      var q = text.value.trim().toLocaleLowerCase();
      var shown = 0;
      Array.prototype.forEach.call(grid.tBodies[0].rows, function (row) {
        var name = (row.getAttribute("data-name") || "").toLocaleLowerCase();
        var ok = name.indexOf(q) !== -1 && (!only.checked || row.getAttribute("data-flags") !== "0");
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      if (count) { count.textContent = String(shown); }
    }
    text.addEventListener("input", apply);
    only.addEventListener("change", apply);
    tools.hidden = false;
  });
  // print every client's findings, not only the open ones
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  document.documentElement.setAttribute("data-js", "ready");
})();
