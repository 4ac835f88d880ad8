// The /targets page's script (inlined by targets_page.rs): filter by state
// and text, "… ago" times ticking every second, and a refresh every 10 s
// that replaces #targets-content and keeps the scroll position, the filter
// and the open <details>.
(function () {
  "use strict";
  var EVERY_MS = 10000;
  function $(s) { return document.querySelector(s); }
  function ago(ms) {
    var s = Math.max(0, ms) / 1000;
    if (s < 60) return s.toFixed(1) + "s ago";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m " + Math.floor(s % 60) + "s ago";
    var h = Math.floor(m / 60);
    if (h < 24) return h + "h " + (m % 60) + "m ago";
    return Math.floor(h / 24) + "d " + (h % 24) + "h ago";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.ago").forEach(function (t) {
      var at = Date.parse(t.getAttribute("datetime"));
      if (!isNaN(at)) t.textContent = ago(now - at);
    });
  }
  function filter() {
    var state = $("#f-state").value;
    var text = $("#f-text").value.trim().toLowerCase();
    var shown = 0, total = 0;
    document.querySelectorAll("#targets-content tbody.group").forEach(function (g) {
      var any = false;
      g.querySelectorAll("tr.t").forEach(function (r) {
        total++;
        var ok = (!state || r.dataset.health === state) &&
          (!text || r.textContent.toLowerCase().indexOf(text) >= 0);
        r.hidden = !ok;
        if (ok) { any = true; shown++; }
      });
      g.hidden = !any;
    });
    $("#f-count").textContent = shown + " of " + total + " rows shown";
  }
  function refresh() {
    if (!$("#f-auto").checked) return Promise.resolve();
    return fetch(location.pathname, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("targets-content");
        if (!next) throw new Error("no targets in the answer");
        var open = {};
        document.querySelectorAll("#targets-content details[open]").forEach(function (d) {
          open[d.dataset.k] = true;
        });
        var x = window.scrollX, y = window.scrollY;
        $("#targets-content").replaceWith(document.adoptNode(next));
        document.querySelectorAll("#targets-content details").forEach(function (d) {
          if (open[d.dataset.k]) d.open = true;
        });
        filter();
        tick();
        window.scrollTo(x, y);
        var done = $("#refreshed");
        done.className = "muted";
        done.textContent = "updated " + new Date().toLocaleTimeString();
        document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
      })
      .catch(function (e) {
        var done = $("#refreshed");
        done.className = "warn";
        done.textContent = "refresh failed: " + e.message;
      });
  }
  window.profcolTargets = { refresh: refresh, filter: filter };
  document.addEventListener("DOMContentLoaded", function () {
    $("#f-state").addEventListener("change", filter);
    $("#f-text").addEventListener("input", filter);
    filter();
    tick();
    setInterval(tick, 1000);
    setInterval(refresh, EVERY_MS);
  });
})();
