// The duty-desk page: sign-in, alarm list with timers and sound, room grid, resident view,
// live updates over Server-Sent Events, Chinese and English.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    me: null, lang: localStorage.getItem("lang") || "zh", conditions: {}, alerts: new Map(),
    residents: [], sites: [], site: "", floor: "", sound: false, source: null, audio: null,
    skew: 0,
  };
  const now = () => Date.now() + state.skew;  // the server's clock (a demo's is simulated)
  const t = (key) => (I18N[state.lang] || I18N.zh)[key] || key;
  const cond = (c) => (state.conditions[c] || {})[state.lang] || c;
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  };
  const clock = (ms) => new Date(ms).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB",
    { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const elapsed = (ms) => {
    const s = Math.max(0, Math.floor((now() - ms) / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0");
  };

  async function api(path, options = {}) {
    const headers = { "Content-Type": "application/json" };
    if (state.me) headers["X-CSRF-Token"] = state.me.csrf;
    const response = await fetch(path, { credentials: "same-origin", headers, ...options });
    if (response.status === 401 && path !== "/api/login") { showLogin(); throw new Error("401"); }
    if (!response.ok) {
      // the API's reason (e.g. "site x exists already") for the person to read
      const body = await response.json().catch(() => ({}));
      throw Object.assign(new Error(response.statusText), {
        status: response.status, detail: typeof body.detail === "string" ? body.detail
          : Array.isArray(body.detail) ? body.detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ") : "" });
    }
    return response.status === 204 ? null : response.json();
  }

  function translate() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
    document.querySelectorAll("[data-i18n-ph]").forEach((n) => { n.placeholder = t(n.dataset.i18nPh); n.setAttribute("aria-label", t(n.dataset.i18nPh)); });
    document.querySelectorAll(".lang-toggle").forEach((b) => { b.textContent = state.lang === "zh" ? "English" : "中文"; });
    $("sound").textContent = state.sound ? t("sound_off") : t("sound_on");
    const pill = $("connection");
    if (pill.classList.contains("ok")) pill.textContent = t("live");
    else if (pill.classList.contains("bad")) pill.textContent = t("reconnecting");
    document.title = t("title");
  }

  function showLogin() {
    state.me = null;
    if (state.source) state.source.close();
    $("desk").hidden = true; $("login").hidden = false; translate();
  }

  async function start() {
    translate();
    try { state.me = await api("/api/me"); } catch { showLogin(); return; }
    await enter();
  }

  async function enter() {
    state.skew = state.me.server_time_ms - Date.now();
    $("login").hidden = true; $("desk").hidden = false;
    $("who").textContent = state.me.username + (state.me.role === "viewer" ? " · " + t("viewer_only") : "");
    state.conditions = await api("/api/conditions");
    state.outcomes = await api("/api/outcomes");
    state.sites = await api("/api/sites");
    $("open-enrol").hidden = !["admin", "manager"].includes(state.me.role);
    $("open-supervision").hidden = !(state.me.org || state.me.role === "admin");
    $("open-shift").hidden = !state.sites.some((s) => s.shifts.length || s.rounds);
    fillFilters(); translate();
    await reload();
    connect();
    window.dispatchEvent(new Event("desk:entered"));  // (a door's scanned code waits for it)
  }

  function fillFilters() {
    const site = $("site-filter"); site.replaceChildren(el("option", { value: "" }, t("all_sites")));
    for (const s of state.sites) site.append(el("option", { value: s.site_id }, s.name));
    site.value = state.site;
    const floors = new Set(state.sites.filter((s) => !state.site || s.site_id === state.site).flatMap((s) => s.floors));
    const floor = $("floor-filter"); floor.replaceChildren(el("option", { value: "" }, t("all_floors")));
    for (const f of [...floors].sort()) floor.append(el("option", { value: f }, t("floor") + " " + f));
    floor.value = state.floor;
  }

  async function reload() {
    const query = state.site ? "&site_id=" + encodeURIComponent(state.site) : "";
    const alerts = await api("/api/alerts?open_only=true&limit=1000" + query);
    // a live update that came while this list was on its way is newer: it stays
    const was = state.alerts;
    state.alerts = new Map(alerts.map((a) => {
      const live = was.get(a.alert_id);
      return [a.alert_id, live && live.updated_ms > a.updated_ms ? live : a];
    }));
    await reloadRooms();
    renderAlerts();
    await checkStatus();
  }

  async function checkStatus() {
    if (!state.me) return;
    const status = await api("/api/status").catch(() => null);
    const degraded = Boolean(status && status.alert_core_degraded);
    $("degraded").hidden = !degraded;
    $("degraded").textContent = degraded ? t("degraded") : "";
  }

  async function reloadRooms() {
    const q = new URLSearchParams();
    if (state.site) q.set("site_id", state.site);
    if (state.floor) q.set("floor", state.floor);
    // the rooms may fail to load (the registry's database away): the alarms never wait on them
    try {
      state.residents = await api("/api/residents?" + q);
    } catch (err) {
      if (err.message === "401") throw err;
      console.warn("rooms not loaded", err);
    }
    renderGrid();
  }

  function visible(a) {
    return a.state !== "resolved" && (!state.site || a.site_id === state.site)
      && (!state.floor || a.floor === state.floor);
  }

  function renderAlerts() {
    const list = $("alarm-list");
    const items = [...state.alerts.values()].filter(visible)
      .sort((a, b) => b.severity_level - a.severity_level || a.opened_ms - b.opened_ms);
    // what the user was typing or choosing survives an update of the list (a live
    // change of another alarm, or of this one, redraws every item)
    const typed = new Map([...list.querySelectorAll("li.alarm")].map((li) => [li.dataset.alertId, {
      note: (li.querySelector("input.note") || {}).value || "",
      outcome: (li.querySelector("select.outcome") || {}).value || "",
      focused: li.contains(document.activeElement) ? document.activeElement.className : "" }]));
    list.replaceChildren(...items.map(alertItem));
    for (const li of list.querySelectorAll("li.alarm")) {
      const was = typed.get(li.dataset.alertId);
      if (!was) continue;
      const note = li.querySelector("input.note"), outcome = li.querySelector("select.outcome");
      if (note) note.value = was.note;
      if (outcome && was.outcome) { outcome.value = was.outcome; li.querySelector("button.resolve").disabled = !outcome.value; }
      if (was.focused) { const f = li.querySelector("." + was.focused.split(" ")[0]); if (f) f.focus(); }
    }
    $("no-alarms").hidden = items.length > 0;
    const unacked = items.filter((a) => a.state === "open" && a.severity_level >= 3);
    $("banner").hidden = unacked.length === 0;
    $("banner").textContent = unacked.length ? t("new_alarm") + ": " + unacked.map((a) => cond(a.condition) + " · " + (a.resident_name || a.subject)).join(" | ") : "";
    tickTimers();
  }

  function alertItem(a) {
    const canAct = state.me.role !== "viewer";
    const note = el("input", { class: "note", placeholder: t("note"), "aria-label": t("note") });
    const post = async (path, body) => {
      try {
        const updated = await api(path, { method: "POST", body: JSON.stringify(body) });
        note.value = "";  // said with this action
        // the answer may come after a newer live update of the same alarm (a re-open
        // pushed while this request was on its way back): the newer one stays
        const have = updated && state.alerts.get(updated.alert_id);
        if (updated && updated.alert_id && updated.condition
            && !(have && have.updated_ms > updated.updated_ms)) state.alerts.set(updated.alert_id, updated);
        renderAlerts(); reloadRooms();
        return updated;
      } catch (e) { if (e.status === 409) reload(); return null; }
    };
    const base = `/api/alerts/${a.alert_id}`;
    const actions = el("div", { class: "actions" });
    if (canAct) {
      actions.append(note);
      if (!a.owner) {  // in the queue: anyone may take it; someone else's: they hand it over
        actions.append(el("button", { class: "ack", onclick: () => post(`${base}/take`, { note: note.value }) }, t("take")));
      } else if (a.owner === state.me.username) {
        actions.append(el("button", { class: "give-back", onclick: () => post(`${base}/give-back`, { reason: note.value }) }, t("give_back")));
      }
      const isRequest = a.condition.startsWith("request_");  // its own list of outcomes
      const outcome = el("select", { class: "outcome", "aria-label": t("outcome") },
        el("option", { value: "" }, t("outcome")),
        ...(state.outcomes || []).filter((o) => o.outcome.startsWith("request_") === isRequest)
          .map((o) => el("option", { value: o.outcome }, o[state.lang] || o.en)));
      const resolve = el("button", { class: "resolve", disabled: "" }, t("resolve"));
      outcome.addEventListener("change", () => { resolve.disabled = !outcome.value; });
      resolve.addEventListener("click", () => post(`${base}/resolve`, { note: note.value, outcome: outcome.value }));
      actions.append(outcome, resolve);
      actions.append(el("button", { class: "send", onclick: () => openDispatch(a, item) }, t("send_responder")));
    }
    const status = a.state === "open" ? el("span", { class: "timer", "data-since": a.opened_ms }, "")
      : el("span", { class: "acked" }, a.owner ? t("taken_by") + a.owner : t("acked_by") + (a.acked_by || ""));
    const item = el("li", { class: `alarm sev-${a.severity} st-${a.state}`, "data-alert-id": a.alert_id, "data-condition": a.condition },
      el("div", { class: "what" }, el("strong", {}, cond(a.condition)), " ",
        el("a", { href: "#", onclick: (e) => { e.preventDefault(); if (a.resident_id) openResident(a.resident_id); } }, a.resident_name || a.subject),
        " ", el("span", { class: "where" }, [a.site_name, a.room].filter(Boolean).join(" · "))),
      el("div", { class: "when" }, clock(a.opened_ms), " ", status, a.repeats ? ` ×${a.repeats + 1}` : ""),
      el("div", { class: "detail" }, (a.details && a.details[state.lang]) || a.detail), actions, el("div", { class: "dispatches" }));
    if (a.state !== "open") showDispatches(a, item);
    return item;
  }

  async function showDispatches(a, item) {
    const list = await api(`/api/alerts/${a.alert_id}/dispatches`).catch(() => []);
    const box = item.querySelector(".dispatches");
    box.replaceChildren(...list.map((d) => {
      const row = el("div", { class: `dispatch d-${d.state}`, "data-dispatch-id": d.dispatch_id },
        `${d.name} (${t("role_" + d.role)}) · ${t("d_" + d.state)} · ${clock(d.sent_ms)}`);
      if (state.me.role !== "viewer" && (d.state === "sent" || d.state === "on_the_way")) {
        for (const step of ["on_the_way", "arrived", "cannot_come"]) {
          row.append(" ", el("button", { class: `mark ${step}`, onclick: async () => {
            await api(`/api/dispatches/${d.dispatch_id}`, { method: "POST", body: JSON.stringify({ step }) }).catch(() => null);
            showDispatches(a, item);
          } }, t("d_" + step)));
        }
      }
      return row;
    }));
  }

  async function openDispatch(a, item) {
    const people = await api(`/api/alerts/${a.alert_id}/responders`).catch(() => []);
    const box = item.querySelector(".dispatches");
    box.replaceChildren(...people.map((p) => {
      const button = el("button", { class: "responder" + (p.proposed ? " proposed" : ""), "data-ref": p.ref, onclick: async () => {
        await api(`/api/alerts/${a.alert_id}/dispatch`, { method: "POST", body: JSON.stringify({ responder: p.ref }) }).catch(() => null);
        const fresh = await api(`/api/alerts/${a.alert_id}`).catch(() => null);
        if (fresh) { state.alerts.set(fresh.alert_id, fresh); renderAlerts(); }
      } }, `${p.name} · ${t("role_" + p.role)} ${p.phone}`);
      button.disabled = !p.has_phone || p.sent;
      return button;
    }));
  }

  const charts = {};
  const secs = (ms) => (ms == null ? "—" : (ms / 1000).toFixed(1) + " s");
  const share = (x) => (x == null ? "—" : (100 * x).toFixed(1) + " %");

  async function openReport(month) {
    const q = new URLSearchParams();
    if (month) q.set("month", month);
    if (state.site) q.set("site_id", state.site);
    const r = await api("/api/reports/response?" + q);
    $("report").hidden = false;
    $("report-month").value = r.month;
    $("report-csv").href = "/api/reports/response.csv?" + q;
    const total = r.total;
    const rows = [["alarms", total.alarms], ["answered", total.answered],
      ["answered_60s", share(total.answered_60s_share)], ["answered_180s", share(total.answered_180s_share)],
      ["answer_p50", secs(total.answer_ms_p50)], ["answer_p90", secs(total.answer_ms_p90)],
      ["dispatched", r.dispatches.dispatched], ["arrival_p50", secs(r.dispatches.arrival_ms_p50)],
      ["arrival_p90", secs(r.dispatches.arrival_ms_p90)], ["non_arrivals", r.dispatches.non_arrivals],
      ["cannot_come_n", r.dispatches.cannot_come], ["ack_timeouts", r.ack_timeouts],
      ["link_tests_every_day", `${share(r.link_tests.share)} (${r.link_tests.every_day}/${r.link_tests.gateways})`],
      ["visit_rate", `${share(r.visits.share)} (${r.visits.visited}/${r.visits.residents})`],
      ...r.visits.communities.filter((c) => c.community).map((c) =>
        [`${t("visit_rate")} · ${c.community}`, `${share(c.share)} (${c.visited}/${c.residents})`]),
      ["visits_overdue", r.visits.overdue],
      ["rounds_on_time", `${share(r.rounds.share)} (${r.rounds.on_time}/${r.rounds.due})`],
      ["handovers_accepted", `${share(r.handovers.share)} (${r.handovers.accepted}/${r.handovers.written})`]];
    $("report-table").tBodies[0].replaceChildren(...rows.map(([k, v]) =>
      el("tr", { "data-key": k }, el("th", {}, t(k)), el("td", {}, String(v)))));
    $("operator-table").tBodies[0].replaceChildren(...r.operators.map((o) =>
      el("tr", {}, el("th", {}, o.operator), el("td", {}, String(o.answered)),
        el("td", {}, share(o.answered_60s_share)), el("td", {}, secs(o.answer_ms_p90)))));
    if (!window.Chart) return;  // the tables stand without the plots
    const bins = [30, 60, 120, 180, 300, Infinity];
    const labels = ["≤30 s", "≤60 s", "≤120 s", "≤180 s", "≤300 s", ">300 s"];
    const counts = bins.map(() => 0);
    for (const ms of r.answer_ms) counts[bins.findIndex((b) => ms / 1000 <= b)] += 1;
    draw("answer-chart", labels, counts, t("alarms"));
    const day = (ms) => new Date(ms).toLocaleDateString(state.lang === "zh" ? "zh-CN" : "en-GB", { month: "2-digit", day: "2-digit" });
    draw("day-chart", r.per_day.map((d) => day(d.day_ms)), r.per_day.map((d) => d.alarms), t("alarms"));
  }

  function draw(id, labels, data, label) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new window.Chart($(id), { type: "bar", data: { labels, datasets: [{ label, data, backgroundColor: "#c0392b" }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } } } });
  }

  function tickTimers() {
    document.querySelectorAll(".timer").forEach((n) => { n.textContent = t("unacked") + " " + elapsed(Number(n.dataset.since)); });
  }

  function renderGrid() {
    $("legend").replaceChildren(...["normal", "warning", "alarm", "device_problem", "offline"].map((s) => el("span", { class: `pill state-${s}` }, t("state_" + s))));
    $("grid").replaceChildren(...state.residents.map((r) => el("button", {
      class: `room state-${r.state}`, "data-resident-id": r.resident_id, onclick: () => openResident(r.resident_id),
    }, el("span", { class: "room-name" }, r.room), el("span", {}, r.name), el("span", { class: "room-state" }, t("state_" + r.state)),
      ...(r.reduced_coverage ? [el("span", { class: "reduced" }, t("reduced_coverage"))] : []))));
  }

  async function openResident(id) {
    const r = await api("/api/residents/" + encodeURIComponent(id));
    const body = $("resident-body");
    const vitals = el("dl", { class: "vitals" }, ...Object.entries(r.vitals).flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, `${v.value} ${v.unit}`)]));
    const chart = el("div", { class: "chart" });
    const kind = el("select", {}, ...["heart_rate", "respiration_rate", "spo2", "skin_temperature"].map((k) => el("option", { value: k }, t(k))));
    let span = 86400000;
    const draw = async () => {
      const end = now(), start = end - span;
      const data = await api(`/api/residents/${encodeURIComponent(id)}/readings?kind=${kind.value}&start_ms=${start}&end_ms=${end}&bucket_s=${span > 86400000 ? 3600 : 600}`);
      chart.replaceChildren(svgChart(data.buckets, start, end, data.unit));
    };
    kind.addEventListener("change", draw);
    const range = (ms, label) => el("button", { onclick: () => { span = ms; draw(); } }, t(label));
    const devices = el("table", { class: "devices" }, ...r.devices.map((d) => el("tr", { class: d.silent || d.low_battery ? "problem" : "" },
      el("td", {}, d.device_id), el("td", {}, d.battery_pct == null ? "" : `${t("battery")} ${Math.round(d.battery_pct)}%`),
      el("td", {}, t("last_seen") + " " + (d.last_seen_ms ? clock(d.last_seen_ms) : t("never"))))));
    const alerts = el("ul", { class: "recent" }, ...r.alerts.slice(0, 10).map((a) => {
      const li = el("li", {}, el("a", { href: "#", onclick: async (e) => { e.preventDefault(); await showTimeline(a.alert_id, li); } }, `${clock(a.opened_ms)} ${cond(a.condition)} · ${t(a.state)}`));
      return li;
    }));
    body.replaceChildren(el("h2", {}, `${r.name} · ${r.room}`),
      el("p", {}, t("medical") + ": " + (r.medical_notes || "—")),
      el("h3", {}, t("vitals")), vitals,
      el("h3", {}, t("history")), el("div", { class: "chart-controls" }, kind, range(86400000, "h24"), range(7 * 86400000, "d7")), chart,
      el("h3", {}, t("recent_alerts")), alerts,
      el("h3", {}, t("devices")), devices, coverageOf(r.coverage),
      el("h3", {}, t("contacts")), el("ul", {}, ...r.contacts.map((c) => el("li", {}, `${c.name} ${c.relation || ""} ${c.phone}`))),
      el("h3", {}, t("plan")), await planOf(id),
      ...(state.me.role !== "viewer" ? [el("h3", {}, t("new_request")), await requestForm(id, r.site_id)] : []),
      ...(["admin", "manager"].includes(state.me.role) ? window.Enrol.residentActions(id) : []));
    $("resident").hidden = false;
    draw();
  }

  // What the installed devices can detect, and what the minimum kit lacks.
  function coverageOf(c) {
    const yes = (ok) => (ok ? "✓" : "✗");
    const list = el("ul", { class: "coverage" + (c.reduced ? " reduced" : "") },
      el("li", {}, `${t("cov_fall")} ${yes(c.fall)}`),
      el("li", {}, `${t("cov_inactivity")} ${yes(c.inactivity)}` + (c.missing.length ? ` (${t("cov_missing")}: ${c.missing.map((m) => t("cov_" + m)).join(", ")})` : "")),
      el("li", {}, `${t("cov_night")} ${yes(c.night)}`),
      el("li", {}, `${t("cov_sos")} ${yes(c.sos)}`),
      el("li", {}, `${t("cov_vitals")}: ${c.vitals.map((v) => t(v)).join(", ") || "—"}`));
    if (c.reduced) list.prepend(el("li", { class: "warn" }, t("reduced_coverage_note")));
    if (c.never_heard.length) list.append(el("li", { class: "warn" }, `${t("cov_never_heard")}: ${c.never_heard.join(", ")}`));
    return list;
  }

  async function requestForm(id, siteId) {
    const types = ((await api("/api/request-types").catch(() => ({})))[siteId]) || [];
    const kind = el("select", { class: "request-type", "aria-label": t("request_type") },
      ...types.map((x) => el("option", { value: x.type }, x[state.lang] || x.en)));
    const wanted = el("input", { class: "request-wanted", type: "datetime-local", "aria-label": t("wanted") });
    const note = el("input", { class: "request-note", placeholder: t("note"), "aria-label": t("note") });
    const form = el("form", { class: "request" }, kind, wanted, note, el("button", { type: "submit" }, t("submit")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { type: kind.value, note: note.value };
      if (wanted.value) body.wanted_ms = new Date(wanted.value).getTime();
      const made = await api(`/api/residents/${encodeURIComponent(id)}/requests`, { method: "POST", body: JSON.stringify(body) }).catch(() => null);
      if (made) { state.alerts.set(made.alert_id, made); renderAlerts(); note.value = ""; }
    });
    return form;
  }

  async function planOf(id) {
    const p = await api(`/api/residents/${encodeURIComponent(id)}/plan`).catch(() => null);
    if (!p) return el("p", {}, "—");
    const box = el("dl", { class: "plan" },
      el("dt", {}, t("access_notes")), el("dd", {}, p.access_notes || "—"),
      el("dt", {}, t("fall_risk")), el("dd", {}, p.fall_risk || "—"),
      el("dt", {}, t("preferred_hospital")), el("dd", {}, p.preferred_hospital || "—"),
      el("dt", {}, t("key_holders")), el("dd", {}, p.key_holders.map((k) => `${k.name} ${k.phone}`).join(", ") || "—"));
    if (p.key_safe_set && state.me.role !== "viewer") {
      const code = el("dd", { class: "key-safe" }, el("button", { onclick: async () => {
        const k = await api(`/api/residents/${encodeURIComponent(id)}/key-safe`);
        code.replaceChildren(k.key_safe);
      } }, t("show_key_safe")));
      box.append(el("dt", {}, t("key_safe")), code);
    }
    return box;
  }

  async function showTimeline(alertId, li) {
    const [events, notices] = await Promise.all([api(`/api/alerts/${alertId}/timeline`), api(`/api/alerts/${alertId}/notices`)]);
    li.append(el("ol", { class: "timeline" },
      ...events.map((e) => el("li", {}, `${clock(e.t_ms)} ${t("tl_" + e.what)} ${e.who} ${(e.details && e.details[state.lang]) || e.detail}`)),
      ...notices.map((n) => el("li", {}, `${clock(n.created_ms)} ${n.channel} → ${n.to}: ${n.state}`))));
  }

  function svgChart(buckets, start, end, unit) {
    const ns = "http://www.w3.org/2000/svg", w = 560, h = 160;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    if (!buckets.length) { const txt = document.createElementNS(ns, "text"); txt.setAttribute("x", 10); txt.setAttribute("y", 20); txt.textContent = "—"; svg.append(txt); return svg; }
    const lo = Math.min(...buckets.map((b) => b.min)), hi = Math.max(...buckets.map((b) => b.max));
    const x = (ms) => ((ms - start) / (end - start)) * w;
    const y = (v) => h - 10 - ((v - lo) / Math.max(hi - lo, 1e-9)) * (h - 20);
    const band = document.createElementNS(ns, "polygon");
    band.setAttribute("points", buckets.map((b) => `${x(b.start_ms)},${y(b.max)}`).concat(buckets.slice().reverse().map((b) => `${x(b.start_ms)},${y(b.min)}`)).join(" "));
    band.setAttribute("class", "band");
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", buckets.map((b) => `${x(b.start_ms)},${y(b.mean)}`).join(" "));
    line.setAttribute("class", "mean");
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", 4); label.setAttribute("y", 12);
    label.textContent = `${lo.toFixed(0)}–${hi.toFixed(0)} ${unit}`;
    svg.append(band, line, label);
    return svg;
  }

  function connect() {
    if (state.source) state.source.close();
    const source = new EventSource("/api/events");
    state.source = source;
    source.addEventListener("hello", () => { $("connection").textContent = t("live"); $("connection").className = "pill ok"; reload(); });
    source.addEventListener("signed_out", () => { source.close(); showLogin(); });
    source.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (event.type === "resync") { reload(); return; }
      if (event.type !== "alert") return;
      const a = event.alert;
      const isNew = !state.alerts.has(a.alert_id);
      if (a.state === "resolved") state.alerts.delete(a.alert_id); else state.alerts.set(a.alert_id, a);
      renderAlerts();
      if (isNew || event.change === "resolved" || event.change === "acknowledged") reloadRooms();
    };
    source.onerror = () => {
      $("connection").textContent = t("reconnecting"); $("connection").className = "pill bad";
      if (source.readyState === EventSource.CLOSED) setTimeout(async () => {
        try { state.me = await api("/api/me"); connect(); } catch { /* signed out */ }
      }, 2000);
    };
  }

  function beep() {
    const unacked = [...state.alerts.values()].some((a) => visible(a) && a.state === "open" && a.severity_level >= 3);
    if (!state.sound || !unacked) return;
    state.audio = state.audio || new AudioContext();
    const osc = state.audio.createOscillator(), gain = state.audio.createGain();
    osc.frequency.value = 880; gain.gain.value = 0.2;
    osc.connect(gain).connect(state.audio.destination);
    osc.start(); osc.stop(state.audio.currentTime + 0.35);
  }

  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("login-error").textContent = "";
    try {
      state.me = await api("/api/login", { method: "POST", body: JSON.stringify({ username: $("username").value, password: $("password").value }) });
      $("password").value = "";
      state.sound = true;  // the sign-in click lets the page play sound
      await enter();
    } catch (err) { $("login-error").textContent = err.status === 429 ? t("throttled") : t("wrong_login"); }
  });
  $("logout").addEventListener("click", async () => { await api("/api/logout", { method: "POST" }).catch(() => {}); showLogin(); });
  document.querySelectorAll(".lang-toggle").forEach((b) => b.addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh"; localStorage.setItem("lang", state.lang);
    translate(); if (state.me) { fillFilters(); renderAlerts(); renderGrid(); }
  }));
  $("sound").addEventListener("click", () => { state.sound = !state.sound; translate(); });
  $("site-filter").addEventListener("change", (e) => { state.site = e.target.value; state.floor = ""; fillFilters(); reload(); });
  $("floor-filter").addEventListener("change", (e) => { state.floor = e.target.value; renderAlerts(); reloadRooms(); });
  $("close-resident").addEventListener("click", () => { $("resident").hidden = true; });
  $("open-report").addEventListener("click", () => openReport());
  $("open-help").addEventListener("click", () => { $("help").hidden = false; });
  $("close-help").addEventListener("click", () => { $("help").hidden = true; });
  $("close-report").addEventListener("click", () => { $("report").hidden = true; });
  $("report-month").addEventListener("change", () => openReport($("report-month").value));
  // what the enrolment panel (enrol.js) uses of this page
  window.Desk = { $, el, api, t, state, reloadRooms, elapsed, fillFilters, openResident: (id) => openResident(id) };
  setInterval(tickTimers, 1000);
  setInterval(beep, 2000);
  setInterval(checkStatus, 5000);
  start();
})();
