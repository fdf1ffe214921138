// A care home's shift as a nurse works it on a phone: who is on duty (sign on or off), the
// round due now room by room (one tap each), and the handover: what the shift leaves (its
// alarms and outcomes, those open or taken, notes, missed rounds, overdue visits), the
// outgoing nurse's notes, and the incoming nurse's accept. Every change goes through
// /api/duty, /api/rounds and /api/handover, which check it.
"use strict";
(() => {
  const { $, el, api, t, state } = window.Desk;
  // the site's own clock (a shift at 16:00 is 16:00 there, wherever the desk is)
  const zone = () => (state.sites.find((s) => s.site_id === $("shift-site").value) || {}).timezone;
  const time = (ms) => new Date(ms).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: zone() });
  const outcomeName = (o) => { const found = (state.outcomes || []).find((x) => x.outcome === o); return found ? found[state.lang] || found.en : o; };
  const post = (url, body = {}) => api(url, { method: "POST", body: JSON.stringify(body) });

  async function render() {
    const site = $("shift-site").value;
    const q = encodeURIComponent(site);
    const [duty, rounds, view] = await Promise.all([api(`/api/duty/${q}`), api(`/api/rounds/${q}`),
      api(`/api/handover/${q}`)]);
    const me = state.me.username;
    const on = duty.on_duty.includes(me);
    const error = el("p", { class: "error", role: "alert" });
    const act = (fn) => async () => { try { await fn(); await render(); } catch (err) { error.textContent = t("refused") + ` (${err.status})`; } };
    const dutyBox = el("section", { class: "duty" },
      el("h3", {}, t("on_duty")), el("p", { class: "on-duty" }, duty.on_duty.join(", ") || t("nobody")),
      el("p", {}, `${t("shift_since")} ${time(duty.shift_start_ms)}` + (duty.next_shift_ms ? ` · ${t("next_shift")} ${time(duty.next_shift_ms)}` : "")),
      el("button", { type: "button", class: on ? "sign-off" : "sign-on", onclick: act(() => post(`/api/duty/${q}/${on ? "off" : "on"}`)) },
        t(on ? "sign_off" : "sign_on")));
    const current = rounds.current;
    const roundBox = el("section", { class: "round" }, el("h3", {}, t("round_now") + (current ? ` ${time(current.slot_ms)}` : "")),
      current ? el("ul", {}, ...current.rooms.map((r) => el("li", { class: "round-room" + (r.done_by ? " done" : ""), "data-room": r.room },
        el("span", {}, r.room + (r.done_by ? ` ✓ ${r.done_by}` : "")),
        r.done_by ? "" : el("button", { type: "button", class: "mark-room", onclick: act(() => post(`/api/rounds/${q}/rooms/${encodeURIComponent(r.room)}`, { how: "tap" })) }, t("looked_in")))))
        : el("p", {}, t("no_round_now")));
    const item = (a) => el("li", {}, `${a.resident_name || a.subject} · ${state.conditions[a.condition]?.[state.lang] || a.condition}` +
      (a.outcome ? ` · ${outcomeName(a.outcome)}` : "") + (a.owner ? ` · ${t("taken_by")} ${a.owner}` : ""));
    const notes = el("textarea", { class: "handover-notes", "aria-label": t("handover_notes"), placeholder: t("handover_notes") });
    const pending = duty.pending[0];
    const handBox = el("section", { class: "handover" }, el("h3", {}, t("handover")),
      el("h4", {}, `${t("alarms_this_shift")} (${view.alarms.length})`), el("ul", { class: "handover-list" }, ...view.alarms.map(item)),
      el("h4", {}, `${t("still_open")} (${view.open.length})`), el("ul", { class: "handover-list open" }, ...view.open.map(item)),
      el("h4", {}, `${t("missed_rounds")} (${view.missed_rounds.length})`),
      el("h4", {}, `${t("visits_overdue")} (${view.overdue_visits.length})`),
      ...(pending ? [el("div", { class: "pending-handover" },
        el("p", {}, `${t("handed_over_by")} ${pending.outgoing}: ${pending.notes}`),
        pending.outgoing === me ? el("p", {}, t("awaiting_accept")) :
          el("button", { type: "button", class: "accept-handover", onclick: act(() => post(`/api/handover/${q}/${pending.handover_id}/accept`)) }, t("accept_handover")))]
        : [notes, el("button", { type: "button", class: "write-handover", onclick: act(() => post(`/api/handover/${q}`, { notes: notes.value })) }, t("hand_over"))]),
      error);
    $("shift-body").replaceChildren(dutyBox, roundBox, handBox);
    dutyLine();
  }

  async function open(site = state.site) {
    const sites = state.sites.filter((s) => s.shifts.length || s.rounds);
    $("shift-site").replaceChildren(...sites.map((s) => el("option", { value: s.site_id }, s.name)));
    if (site && sites.some((s) => s.site_id === site)) $("shift-site").value = site;
    $("shift").hidden = false;
    await render();
  }

  // A room's door carries a code of this page's address with "#round/<site>/<room>": a
  // nurse signed in on her phone scans it and the room is marked for the round due now.
  async function scanned() {
    const found = /^#round\/([^/]+)\/([^/]+)$/.exec(location.hash);
    if (!found || !state.me) return;
    history.replaceState(null, "", location.pathname);
    const [site, room] = [decodeURIComponent(found[1]), decodeURIComponent(found[2])];
    await open(site);
    try {
      await post(`/api/rounds/${encodeURIComponent(site)}/rooms/${encodeURIComponent(room)}`, { how: "scan" });
      await render();
    } catch (err) {
      $("shift-body").prepend(el("p", { class: "error scan-refused", role: "alert" }, `${t("refused")}: ${err.detail || err.status}`));
    }
  }
  // Who is on duty now at each care home the desk shows, and when the next shift begins.
  async function dutyLine() {
    const sites = (state.sites || []).filter((s) => s.shifts.length && (!state.site || s.site_id === state.site));
    const rows = await Promise.all(sites.map(async (s) => [s, await api(`/api/duty/${encodeURIComponent(s.site_id)}`)]));
    const at = (s, ms) => new Date(ms).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: s.timezone });
    $("duty-now").replaceChildren(...rows.map(([s, d]) => el("span", { class: "duty-site", "data-site": s.site_id },
      `${s.name}: ${t("on_duty")} ${d.on_duty.join(", ") || t("nobody")}` + (d.next_shift_ms ? ` · ${t("next_shift")} ${at(s, d.next_shift_ms)}` : ""))));
    $("duty-now").hidden = rows.length === 0;
  }
  window.addEventListener("desk:entered", () => { dutyLine(); });
  $("site-filter").addEventListener("change", () => { dutyLine(); });
  setInterval(() => { if (state.me && !$("desk").hidden) dutyLine().catch(() => {}); }, 60000);
  window.addEventListener("desk:entered", scanned);
  window.addEventListener("hashchange", scanned);
  $("shift-site").addEventListener("change", () => render());
  $("open-shift").addEventListener("click", () => open());
  $("close-shift").addEventListener("click", () => { $("shift").hidden = true; });
})();
