// The enrolment panel (admins): the devices gateways report that the registry does not
// know, each paired to a resident in two clicks; admitting a resident; in a resident's
// panel, moving them to another room and discharging them. Uses the page's helpers
// (window.Desk, app.js); every change goes through /api/registry, which checks it.
"use strict";
(() => {
  const { $, el, api, t, state } = window.Desk;

  async function open() {
    const [unpaired, residents] = await Promise.all([
      api("/api/registry/unpaired"), api("/api/residents")]);
    const list = $("unpaired");
    list.replaceChildren(...unpaired.map((d) => {
      const who = el("select", { class: "assign", "aria-label": t("assign_to") },
        el("option", { value: "" }, t("choose_resident")),
        ...residents.filter((r) => r.site_id === d.site_id)
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
    const site = $("admit-site");
    site.replaceChildren(...state.sites.map((s) => el("option", { value: s.site_id }, s.name)));
    $("enrol").hidden = false;
  }

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
    } catch (err) { $("admit-error").textContent = t("refused") + ` (${err.status})`; }
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
