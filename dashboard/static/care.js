// The visit register (探访) as a visitor uses it on a phone: the residents due a visit,
// soonest first (overdue ones marked), grouped by visitor or by community, after the desk's wellness calls
// of the day; a visit recorded in three taps
// (how, what was found, a note) through /api/residents/{id}/visits, which checks it.
"use strict";
(() => {
  const { $, el, api, t } = window.Desk;

  function row(d, how = d.visit_methods?.[0] || "home") {
    const when = d.overdue ? `${t("visit_overdue_by")} ${d.overdue_days} ${t("days")}`
      : `${t("visit_due")} ${new Date(d.due_ms).toLocaleDateString()}`;
    const option = (value, label) => el("option", { value }, label);
    const method = el("select", { class: "visit-method", "aria-label": t("visit_method") },
      ...["home", "phone", "video"].map((m) => el("option", { value: m, ...(m === how ? { selected: "" } : {}) }, t("visit_" + m))));
    const found = el("select", { class: "visit-found", "aria-label": t("visit_found") },
      ...["well", "concerns", "not_found"].map((f) => option(f, t("visit_" + f))));
    const note = el("input", { class: "visit-note", placeholder: t("note"), "aria-label": t("note"), maxlength: "500" });
    const save = el("button", { type: "submit", class: "record-visit" }, t("record_visit"));
    const error = el("span", { class: "error", role: "alert" });
    const form = el("form", { class: "visit-form" }, method, found, note, save, error);
    const item = el("li", { class: "visit-due" + (d.overdue ? " overdue" : ""), "data-resident-id": d.resident_id },
      el("div", {}, el("strong", {}, d.display_name), ` · ${d.room} · `,
        el("span", { class: "visit-when" }, when)),
      form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      save.disabled = true;
      try {
        await api(`/api/residents/${encodeURIComponent(d.resident_id)}/visits`, { method: "POST",
          body: JSON.stringify({ method: method.value, found: found.value, note: note.value }) });
        error.textContent = t("saved");
        item.classList.add("done");
        setTimeout(open, 800);
      } catch (err) { error.textContent = t("refused") + ` (${err.status})`; save.disabled = false; }
    });
    return item;
  }

  async function open() {
    const [due, calls] = await Promise.all([api("/api/visits/due"), api("/api/calls/today")]);
    const groups = new Map();
    const byCommunity = $("visit-group").value === "community";
    for (const d of due) {
      const who = byCommunity ? d.community_name || d.community || t("no_community")
        : d.visitor || t("no_visitor");
      if (!groups.has(who)) groups.set(who, []);
      groups.get(who).push(d);
    }
    const callList = calls.length ? [el("li", { class: "calls-today" }, el("h3", {}, t("calls_today")),
      el("ul", {}, ...calls.map((d) => row(d, "phone"))))] : [];
    $("visit-list").replaceChildren(...callList, ...[...groups].map(([who, items]) =>
      el("li", { class: "visitor" }, el("h3", {}, who), el("ul", {}, ...items.map((d) => row(d))))));
    $("no-visits").hidden = due.length > 0;
    $("visits").hidden = false;
  }

  $("open-visits").addEventListener("click", () => open());
  $("visit-group").addEventListener("change", () => open());
  $("close-visits").addEventListener("click", () => { $("visits").hidden = true; });
})();
