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
    // commands a gateway refused or never answered (its device list, a link test)
    const problems = await api("/api/registry/commands/not-done");
    $("commands-not-done").replaceChildren(...problems.map((c) => el("li", {
      class: "command-problem", "data-gateway": c.gateway_id, "data-command": c.name },
      `${c.gateway_id} · ${t("cmd_" + c.name)} · ${t("cmd_" + c.state)}: ${c.reason}`)));
    $("no-commands-not-done").hidden = problems.length > 0;
    $("discharged-box").hidden = state.me.role !== "admin";
    if (state.me.role === "admin") await listDischarged();
    $("enrol").hidden = false;
  }

  // Discharged residents: their personal data erased on request after the retention period.
  async function listDischarged() {
    const day = (ms) => new Date(ms).toLocaleDateString(state.lang === "zh" ? "zh-CN" : "en-GB");
    const rows = await api("/api/registry/discharged");
    $("no-discharged").hidden = rows.length > 0;
    $("discharged").replaceChildren(...rows.map((d) => {
      const now = Date.now() + state.skew;
      const error = el("span", { class: "error", role: "alert" });
      const item = el("li", { class: "discharged", "data-resident-id": d.resident_id },
        el("span", {}, `${d.resident_id} · ${t("discharged_on")} ${day(d.discharged_ms)} · ` +
          (d.erased_ms ? `${t("erased")} ${day(d.erased_ms)}` : `${t("erasable_from")} ${day(d.erasable_from_ms)}`)));
      if (!d.erased_ms) {
        const button = el("button", { class: "erase", ...(now < d.erasable_from_ms ? { disabled: "" } : {}) }, t("erase"));
        button.addEventListener("click", async () => {
          if (!window.confirm(t("erase_confirm"))) return;
          try {
            await api(`/api/registry/discharged/${encodeURIComponent(d.resident_id)}/erase`, { method: "POST" });
            await listDischarged();
          } catch (err) { error.textContent = refusal(err); }
        });
        item.append(button, error);
      }
      return item;
    }));
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
    return [el("h3", {}, t("enrol")), el("div", { class: "resident-admin" }, room, move, discharge, error),
      el("h3", {}, t("plan_and_contacts")), planForm(id)];
  }

  // The response plan and the contacts, as the desk changes them (a family's new phone).
  function planForm(id) {
    const form = el("form", { class: "plan-edit" });
    const url = "/api/registry/residents/" + encodeURIComponent(id);
    const input = (name, value, attrs = {}) => el("input", { class: name, value: value ?? "",
      placeholder: t(name), "aria-label": t(name), ...attrs });
    // a field keeps its name above it once filled (a placeholder alone goes away)
    const field = (name, value, attrs = {}) => el("label", { class: "field" },
      el("span", {}, t(name)), input(name, value, attrs));
    const option = (value, label, chosen) => el("option", { value, ...(value === chosen ? { selected: "" } : {}) }, label);
    const contactRow = (c = {}) => {
      const row = el("div", { class: "contact-edit" },
        field("contact_name", c.name, { required: "" }),
        field("contact_phone", c.phone, { required: "", pattern: "\\+?[0-9]{6,15}", inputmode: "tel" }),
        el("select", { class: "contact_role", "aria-label": t("contact_role") },
          ...["family", "keyholder", "staff", "community_worker"].map((r) => option(r, t("role_" + r), c.role || "family"))),
        el("select", { class: "contact_language", "aria-label": t("language") },
          option("zh", "中文", c.language || "zh"), option("en", "English", c.language || "zh")));
      row.append(el("button", { type: "button", class: "remove-contact", onclick: () => row.remove() }, t("remove")));
      return row;
    };
    (async () => {
      const r = await api(url + "/record");
      const contacts = el("div", { class: "contacts-edit" }, ...r.contacts.map(contactRow));
      const means = r.checkin ? r.checkin.means[0] : "";
      const error = el("p", { class: "error", role: "alert" });
      form.replaceChildren(
        field("access_notes", r.access_notes), field("preferred_hospital", r.preferred_hospital),
        field("fall_risk", r.fall_risk),
        field("arrive_within_min", r.arrive_within_min, { type: "number", min: "1", max: "1440" }),
        field("key_safe", "", { type: "password", autocomplete: "off", placeholder: t("key_safe_keep") }),
        el("select", { class: "resident_language", "aria-label": t("prompt_language") },
          option("zh", "中文", r.language || "zh"), option("en", "English", r.language || "zh")),
        el("h4", {}, t("checkin")),
        el("select", { class: "checkin_means", "aria-label": t("checkin_means") },
          ...["", "activity", "answer", "door"].map((m) => option(m, t("checkin_" + (m || "none")), means))),
        field("checkin_since", r.checkin?.since ?? "05:00", { type: "time" }),
        field("checkin_by", r.checkin?.by ?? "10:00", { type: "time" }),
        el("h4", {}, t("contacts")),
        contacts,
        el("button", { type: "button", class: "add-contact", onclick: () => contacts.append(contactRow()) }, t("add_contact")),
        el("button", { type: "submit", class: "save-plan" }, t("save")), error);
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const value = (name) => form.querySelector("." + name).value;
        const chosen = value("checkin_means");  // (several means, set through the API, kept)
        const checkin = chosen ? { since: value("checkin_since"), by: value("checkin_by"),
          means: chosen === means ? r.checkin.means : [chosen] } : null;
        const body = { ...r, access_notes: value("access_notes"), preferred_hospital: value("preferred_hospital"),
          fall_risk: value("fall_risk"), key_safe: value("key_safe"), language: value("resident_language"), checkin,
          arrive_within_min: value("arrive_within_min") ? Number(value("arrive_within_min")) : null,
          contacts: [...contacts.querySelectorAll(".contact-edit")].map((row) => ({
            name: row.querySelector(".contact_name").value, phone: row.querySelector(".contact_phone").value,
            role: row.querySelector(".contact_role").value, language: row.querySelector(".contact_language").value })) };
        try {
          await api(url, { method: "PUT", body: JSON.stringify(body) });
          error.textContent = t("saved");
        } catch (err) { error.textContent = refusal(err); }
      });
    })();
    return form;
  }

  window.Enrol = { residentActions };
  $("open-enrol").addEventListener("click", () => open());
  $("close-enrol").addEventListener("click", () => { $("enrol").hidden = true; });
})();
