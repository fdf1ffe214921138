// The supervising level's table across institutions (a user of a district, street or
// community, or an admin): per site below them, open alarms and the oldest one's age,
// the week's alarms, the 30 days' share answered within 60 s, devices offline or low on
// battery, residents without the minimum kit. Uses the page's helpers (window.Desk).
"use strict";
(() => {
  const { $, el, api, t, elapsed } = window.Desk;
  const COLUMNS = [
    ["sv_site", (s) => s.name], ["sv_org", (s) => s.org_name || "—"],
    ["sv_residents", (s) => s.residents], ["sv_open", (s) => s.open_alarms],
    ["sv_oldest", (s) => (s.oldest_open_ms == null ? "—" : elapsed(s.oldest_open_ms))],
    ["sv_week", (s) => s.alarms_7d],
    ["sv_answered", (s) => (s.answered_60s_share_30d == null ? "—" : `${(100 * s.answered_60s_share_30d).toFixed(1)}%`)],
    ["sv_offline", (s) => s.devices_offline], ["sv_battery", (s) => s.battery_low],
    ["sv_reduced", (s) => s.reduced_coverage]];
  const BAD = new Set(["sv_open", "sv_offline", "sv_reduced"]);

  async function open() {
    const data = await api("/api/supervision");
    const table = $("supervision-table");
    table.tHead.replaceChildren(el("tr", {}, ...COLUMNS.map(([key]) => el("th", {}, t(key)))));
    table.tBodies[0].replaceChildren(...data.sites.map((s) => el("tr", { "data-site": s.site_id },
      ...COLUMNS.map(([key, value]) => {
        const v = value(s);
        return el("td", { class: BAD.has(key) && v > 0 ? "bad" : "", "data-label": t(key) }, String(v));
      }))));
    $("supervision").hidden = false;
  }

  $("open-supervision").addEventListener("click", () => open());
  $("close-supervision").addEventListener("click", () => { $("supervision").hidden = true; });
})();
