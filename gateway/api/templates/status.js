// Keeps the server-rendered page live: fetch /api/status (the login cookie authenticates GETs)
// and rewrite the numbers and tables with textContent only (no HTML from data).
(function () {
  "use strict";
  var refreshMs = Number(document.body.dataset.refreshMs) || 5000;

  function hms(ts) { return ts == null ? "–" : new Date(ts * 1000).toISOString().slice(11, 19); }
  function age(s) {
    if (s == null) return "–";
    if (s < 120) return Math.round(s) + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    return Math.round(s / 3600) + " h";
  }
  function setText(id, text) { var el = document.getElementById(id); if (el) el.textContent = String(text); }
  function badge(id, cls, text) {
    var el = document.getElementById(id);
    if (!el) return;
    el.className = "badge " + cls;
    el.textContent = text;
  }
  function fillTable(id, rows, columns, emptyText) {
    var body = document.getElementById(id);
    if (!body) return;
    while (body.firstChild) body.removeChild(body.firstChild);
    if (!rows.length) {
      var tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = columns.length; td.className = "empty"; td.textContent = emptyText;
      tr.appendChild(td); body.appendChild(tr);
      return;
    }
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      columns.forEach(function (col) {
        var td = document.createElement("td");
        td.textContent = col.get(row);
        if (col.num) td.className = "num";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function render(s) {
    setText("events-per-minute", s.events.per_minute);
    setText("events-total", s.events.total);
    setText("outbox-depth", s.outbox.depth);
    setText("outbox-age", age(s.outbox.oldest_age_s));
    setText("dead-letters-total", s.dead_letters.total);
    setText("devices-seen", s.devices_seen);
    setText("last-sync", hms(s.central.last_success_at));
    setText("generated-at", hms(s.generated_at));
    badge("broker", s.broker.connected ? "ok" : "bad", s.broker.connected ? "connected" : "disconnected");
    var c = s.central;
    if (c.configured === null) badge("central", "unknown", "unknown");
    else if (!c.configured) badge("central", "unknown", "not configured");
    else if (c.state === "backoff" || c.state === "refused" || c.last_error) badge("central", "bad", c.state || "error");
    else badge("central", c.state ? "ok" : "unknown", c.state || "starting");
    fillTable("devices", s.devices, [
      { get: function (d) { return d.site; } },
      { get: function (d) { return d.device; } },
      { get: function (d) { return d.profile; } },
      { get: function (d) { return hms(d.last_seen); } },
      { get: function (d) { return d.messages; }, num: true }
    ], "no device has sent anything yet");
    fillTable("voice-turns", s.recent_voice_turns, [
      { get: function (t) { return hms(t.at); } },
      { get: function (t) { return t.site; } },
      { get: function (t) { return t.text; } },
      { get: function (t) { return t.intent || "(not recognised)"; } },
      { get: function (t) { return t.latency_s.toFixed(2) + " s"; }, num: true }
    ], "no voice turn yet");
    fillTable("rule-firings", s.recent_rule_firings, [
      { get: function (f) { return hms(f.at); } },
      { get: function (f) { return f.rule; } },
      { get: function (f) { return f.event_id || ""; } },
      { get: function (f) { return f.detail; } }
    ], "no rule has fired yet");
    fillTable("dead-letters", s.recent_dead_letters, [
      { get: function (d) { return hms(d.received_at); } },
      { get: function (d) { return d.topic; } },
      { get: function (d) { return d.reason; } },
      { get: function (d) { return d.detail; } }
    ], "no dead letters");
    document.body.dataset.updated = String(s.generated_at);
  }

  function refresh() {
    fetch("/api/status", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location.assign("/"); throw new Error("logged out"); }
        if (!r.ok) throw new Error("status " + r.status);
        return r.json();
      })
      .then(render)
      .catch(function () { badge("broker", "unknown", "gateway unreachable"); })
      .then(function () { window.setTimeout(refresh, refreshMs); });
  }
  window.setTimeout(refresh, refreshMs);
})();
