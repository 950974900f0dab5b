// The zones' occupancy and queue over the last hours, drawn as inline SVG from
// /api/analytics/series (no external assets, no HTML from data: SVG elements and textContent).
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var refreshMs = Math.max(5000, Number(document.body.dataset.refreshMs) || 5000);
  var W = 560, H = 150, LEFT = 34, RIGHT = 8, TOP = 10, BOTTOM = 22;

  function svg(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text != null) node.textContent = String(text);
    return node;
  }
  function hm(ts) { return new Date(ts * 1000).toISOString().slice(11, 16); }

  function line(minutes, values, x, y, color, cls) {
    var points = [];
    for (var i = 0; i < minutes.length; i++) {
      // Steps: a value holds until the next minute's point.
      if (i > 0) points.push(x(minutes[i]).toFixed(1) + "," + y(values[i - 1]).toFixed(1));
      points.push(x(minutes[i]).toFixed(1) + "," + y(values[i]).toFixed(1));
    }
    return svg("polyline", { points: points.join(" "), fill: "none", stroke: color, "stroke-width": 2, "class": cls });
  }

  function plot(z, since, until) {
    var top = Math.max(4, Math.max.apply(null, z.occupancy_max.concat(z.queue)));
    var x = function (t) { return LEFT + (W - LEFT - RIGHT) * (t - since) / Math.max(1, until - since); };
    var y = function (v) { return TOP + (H - TOP - BOTTOM) * (1 - v / top); };
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "class": "zone-plot", "data-zone": z.zone });
    root.appendChild(svg("title", {}, z.zone + ": occupancy and queue"));
    [0, 0.5, 1].forEach(function (f) {
      var v = Math.round(top * f);
      root.appendChild(svg("line", { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), stroke: "#eaecf0" }));
      root.appendChild(svg("text", { x: LEFT - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 10, fill: "#667085" }, v));
    });
    root.appendChild(svg("text", { x: LEFT, y: H - 6, "font-size": 10, fill: "#667085" }, hm(since)));
    root.appendChild(svg("text", { x: W - RIGHT, y: H - 6, "font-size": 10, fill: "#667085", "text-anchor": "end" }, hm(until)));
    if (z.minutes.length) {
      root.appendChild(line(z.minutes, z.occupancy, x, y, "#2e6fdb", "occupancy"));
      if (z.role === "checkout") root.appendChild(line(z.minutes, z.queue, x, y, "#e07a10", "queue"));
    }
    return root;
  }

  function render(report, live) {
    var box = document.getElementById("zone-plots");
    if (!box) return;
    while (box.firstChild) box.removeChild(box.firstChild);
    var until = Date.now() / 1000;
    if (!report.zones.length) {
      var p = document.createElement("p"); p.className = "empty"; p.textContent = "no zone figures yet";
      box.appendChild(p);
    }
    report.zones.forEach(function (z) {
      var figure = document.createElement("figure");
      figure.className = "zone";
      var caption = document.createElement("figcaption");
      var now = live[z.zone] || {};
      caption.textContent = z.zone + " (" + z.role + ") · now " + (now.occupancy || 0) +
        (z.role === "checkout" ? " · queue " + (now.queue_length || 0) + " · wait " + Math.round(now.wait_s || 0) + " s" : "");
      figure.appendChild(caption);
      figure.appendChild(plot(z, report.since, until));
      box.appendChild(figure);
    });
    document.body.dataset.plotted = String(report.zones.length);
  }

  function get(path, fallback) {
    return fetch(path, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 503) return fallback;  // the analytics part is turned off
      if (!r.ok) throw new Error(path + " " + r.status);
      return r.json();
    });
  }

  function refresh() {
    Promise.all([get("/api/analytics/series?hours=3", { since: 0, zones: [] }), get("/api/analytics/zones", { zones: [] })])
      .then(function (both) {
        var live = {};
        both[1].zones.forEach(function (z) { live[z.zone] = z; });
        render(both[0], live);
      })
      .catch(function () { /* the status script shows an unreachable gateway */ })
      .then(function () { window.setTimeout(refresh, refreshMs); });
  }
  refresh();
})();
