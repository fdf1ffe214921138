// The enrolment panel (admins): the devices gateways report that the registry does not
// know, each paired to a resident in two clicks; admitting a resident; in a resident's
// panel, moving them to another room and discharging them. Uses the page's helpers
// (window.Desk, app.js); every change goes through /api/registry, which checks it.
"use strict";
(() => {
  const { $, el, api, t, state } = window.Desk;

  async function open() {
    const unpaired = await api("/api/registry/unpaired");
    // each new device's choices: the residents of its gateway's site (one page per site)
    const sites = [...new Set(unpaired.map((d) => d.site_id))];
    const bySite = new Map(await Promise.all(sites.map(async (s) =>
      [s, await api("/api/residents?site_id=" + encodeURIComponent(s))])));
    const list = $("unpaired");
    list.replaceChildren(...unpaired.map((d) => {
      const who = el("select", { class: "assign", "aria-label": t("assign_to") },
        el("option", { value: "" }, t("choose_resident")),
        ...(bySite.get(d.site_id) || [])
          .map((r) => el("option", { value: r.resident_id }, `${r.name} · ${r.room}`)));
      const battery = d.battery == null ? "" : ` · ${t("battery")} ${Math.round(d.battery)}%`;
      const pair = el("button", { class: "pair", disabled: "" }, t("pair"));
      who.addEventListener("change", () => { pair.disabled = !who.value; });
      const item = el("li", { class: "unpaired", "data-device": `${d.gateway_id}/${d.device_id}` },
        el("span", {}, `${t("new_device_on")} ${d.gateway_id}: ${d.device_id} (${d.kinds.join(", ")})${battery}`),
        who, pair, el("span", { class: "error", role: "alert" }));
      pair.addEventListener("click", async () => {
        const body = { gateway_id: d.gateway_id, device_id: d.device_id, resident_id: who.value };
        try {
          await api("/api/registry/devices", { method: "POST", body: JSON.stringify(body) });
          item.remove();
          $("no-unpaired").hidden = list.children.length > 0;
        } catch (err) { item.lastChild.textContent = t("refused") + ` (${err.status})`; }
      });
      return item;
    }));
    $("no-unpaired").hidden = unpaired.length > 0;
    fillSites();
    // sites and orgs are added by an admin of every site
    const everySite = state.me.role === "admin" && state.me.every_site;
    $("add-places").hidden = !everySite;
    if (everySite) {
      const orgs = await api("/api/registry/orgs");
      $("site-org").replaceChildren(el("option", { value: "" }, t("no_org")),
        ...orgs.map((o) => el("option", { value: o.org_id }, o.name)));
    }
    $("enrol").hidden = false;
  }

  function fillSites() {
    for (const id of ["admit-site", "gateway-site"]) {
      $(id).replaceChildren(...state.sites.map((s) => el("option", { value: s.site_id }, s.name)));
    }
  }

  const refusal = (err) => t("refused") + (err.detail ? ": " + err.detail : ` (${err.status})`);

  $("add-site").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { site_id: $("site-id").value, name: $("site-name").value, kind: $("site-kind").value,
      address: $("site-address").value, org: $("site-org").value };
    try {
      await api("/api/registry/sites", { method: "POST", body: JSON.stringify(body) });
      $("site-error").textContent = t("added") + ": " + body.site_id;
      e.target.reset();
      state.sites = await api("/api/sites");
      fillSites();
      window.Desk.fillFilters();
    } catch (err) { $("site-error").textContent = refusal(err); }
  });

  $("add-gateway").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { site_id: $("gateway-site").value, gateway_id: $("gateway-id").value };
    try {
      await api("/api/registry/gateways", { method: "POST", body: JSON.stringify(body) });
      $("gateway-error").textContent = t("added") + ": " + body.gateway_id;
      $("gateway-id").value = "";
    } catch (err) { $("gateway-error").textContent = refusal(err); }
  });

  $("admit").addEventListener("submit", async (e) => {
    e.preventDefault();
    const contacts = $("admit-contact").value && $("admit-phone").value
      ? [{ name: $("admit-contact").value, phone: $("admit-phone").value, role: "keyholder" }] : [];
    const body = { resident_id: $("admit-id").value, site_id: $("admit-site").value,
      display_name: $("admit-name").value, room: $("admit-room").value, bed: $("admit-bed").value,
      floor: $("admit-floor").value, contacts };
    try {
      await api("/api/registry/residents", { method: "POST", body: JSON.stringify(body) });
      $("admit-error").textContent = "";
      e.target.reset();
      await window.Desk.reloadRooms();
    } catch (err) { $("admit-error").textContent = refusal(err); }
  });

  // In a resident's panel: another room, or discharge (asks first).
  function residentActions(id) {
    const room = el("input", { class: "move-room", placeholder: t("room"), "aria-label": t("room") });
    const error = el("span", { class: "error", role: "alert" });
    const move = el("button", { class: "move", onclick: async () => {
      const r = await api("/api/registry/residents/" + encodeURIComponent(id) + "/record");
      try {
        await api("/api/registry/residents/" + encodeURIComponent(id),
          { method: "PUT", body: JSON.stringify({ ...r, room: room.value }) });
        await window.Desk.reloadRooms();
        await window.Desk.openResident(id);
      } catch (err) { error.textContent = t("refused") + ` (${err.status})`; }
    } }, t("move"));
    const discharge = el("button", { class: "discharge", onclick: async () => {
      if (!window.confirm(t("discharge_confirm"))) return;
      await api("/api/registry/residents/" + encodeURIComponent(id) + "/discharge", { method: "POST" });
      $("resident").hidden = true;
      await window.Desk.reloadRooms();
    } }, t("discharge"));
    return [el("h3", {}, t("enrol")), el("div", { class: "resident-admin" }, room, move, discharge, error)];
  }

  window.Enrol = { residentActions };
  $("open-enrol").addEventListener("click", () => open());
  $("close-enrol").addEventListener("click", () => { $("enrol").hidden = true; });
})();
