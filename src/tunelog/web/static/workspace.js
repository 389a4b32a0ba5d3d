// The project workspace: selecting runs, comparing their metrics, renaming, deleting, saved views,
// and expanding groups (their runs come a page at a time from the JSON API).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const d = TL.data();
  const checks = () => Array.from(document.querySelectorAll(".run-check"));
  const selected = () => checks().filter((c) => c.checked).map((c) => ({ id: c.value, name: c.dataset.name }));
  const bar = document.getElementById("selection-bar");
  const update = () => {
    const n = selected().length;
    bar.hidden = n === 0;
    document.getElementById("sel-count").textContent = String(n);
  };
  // Delegated: a group's runs are added to the table when it is expanded.
  document.addEventListener("change", (ev) => { if (ev.target.classList.contains("run-check")) update(); });
  const all = document.getElementById("select-all");
  const shown = () => checks().filter((c) => !c.closest("tr").hidden);
  if (all) all.addEventListener("change", () => { shown().forEach((c) => (c.checked = all.checked)); update(); });

  // Columns: the checked boxes become the comma-separated "cols" field.
  const form = document.getElementById("ws-form");
  form.addEventListener("submit", () => {
    const boxes = Array.from(form.querySelectorAll("input[name=col]"));
    document.getElementById("cols-field").value = boxes.filter((b) => b.checked).map((b) => b.value).join(",");
    boxes.forEach((b) => (b.disabled = true)); // not sent one by one
    const empty = Array.from(form.querySelectorAll("input")).filter((i) => i.name && !i.value && i.type !== "checkbox");
    empty.forEach((i) => (i.disabled = true));
  });

  // Rename in place.
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-action=rename]");
    if (!b) return;
    const link = b.closest("td").querySelector(".run-name");
    const span = document.createElement("span");
    span.className = "run-name";
    span.textContent = link.textContent;
    link.replaceWith(span);
    const restore = () => { link.textContent = span.textContent; span.replaceWith(link); };
    TL.editInPlace(span, { save: (t) => TL.patchRun(b.dataset.run, { name: t }) });
    span.addEventListener("blur", () => setTimeout(restore, 0), { once: true });
  });

  // Groups: the head row's toggle shows or hides the group's runs; the first time, and on "Show
  // more", the next page of them is fetched (keyset cursor) and rendered as rows like the server's.
  const groupValues = d.groups || [];
  const loadGroup = async (tbody) => {
    const q = new URLSearchParams({ by: d.spec.group, value: JSON.stringify(groupValues[+tbody.dataset.group]),
      order: d.spec.sort || "-created_at", limit: String(d.groupPage || 20) });
    if (d.spec.q) q.set("filter", d.spec.q);
    if (d.spec.text) q.set("text", d.spec.text);
    if (tbody.dataset.next) q.set("cursor", tbody.dataset.next);
    const page = await TL.api("GET", TL.apiBase() + "/groups/runs?" + q.toString());
    const more = tbody.querySelector(".group-more");
    page.runs.forEach((r) => more.before(runRow(r)));
    tbody.dataset.next = page.next || "";
    const loaded = tbody.querySelectorAll("tr[data-run]").length;
    more.hidden = !page.next;
    more.querySelector("button").textContent = "Show more (" + loaded + " of " + tbody.dataset.count + " shown)";
  };
  document.querySelectorAll("tbody.group .group-toggle").forEach((b) => b.addEventListener("click", async () => {
    const tbody = b.closest("tbody");
    const open = b.getAttribute("aria-expanded") !== "true";
    b.setAttribute("aria-expanded", String(open));
    b.textContent = open ? "▾" : "▸";
    tbody.querySelectorAll("tr[data-run]").forEach((tr) => (tr.hidden = !open));
    if (open && !tbody.dataset.loaded) { tbody.dataset.loaded = "1"; await loadGroup(tbody); }
    else tbody.querySelector(".group-more").hidden = !open || !tbody.dataset.next;
  }));
  document.querySelectorAll("[data-action=group-more]").forEach((b) =>
    b.addEventListener("click", () => loadGroup(b.closest("tbody"))));


  // Delete with confirmation.
  const dlg = document.getElementById("delete-dialog");
  document.querySelector("[data-action=delete-runs]").addEventListener("click", () => {
    const runs = selected();
    document.getElementById("delete-count").textContent = String(runs.length);
    const ul = document.getElementById("delete-names");
    ul.replaceChildren(...runs.map((r) => { const li = document.createElement("li"); li.textContent = r.name + " (" + r.id + ")"; return li; }));
    dlg.showModal();
  });
  dlg.querySelector("[data-action=cancel-delete]").addEventListener("click", () => dlg.close());
  dlg.querySelector("[data-action=confirm-delete]").addEventListener("click", async () => {
    for (const r of selected()) await TL.api("DELETE", TL.apiBase() + "/runs/" + TL.enc(r.id));
    dlg.close();
    window.location.reload();
  });

  // Compare: metrics of the selected runs overlaid on shared charts.
  const panel = document.getElementById("compare");
  const metricSel = document.getElementById("compare-metric");
  const grid = document.getElementById("compare-charts");
  const smooth = document.getElementById("compare-smooth");
  const xTime = document.getElementById("compare-time");
  let charts = [];
  const opts = () => ({ smooth: parseFloat(smooth.value) || 0, time: xTime.checked });
  const drawCompare = (runs) => {
    const chosen = Array.from(metricSel.selectedOptions).map((o) => o.value);
    document.getElementById("charts-field").value = chosen.join(",");
    grid.replaceChildren();
    charts = chosen.map((m) => {
      const box = document.createElement("div");
      box.className = "chart";
      const title = document.createElement("div");
      title.className = "chart-title";
      title.textContent = m;
      const plot = document.createElement("div");
      plot.className = "plot";
      const note = document.createElement("div");
      note.className = "note";
      box.append(title, plot, note);
      grid.appendChild(box);
      return TL.metricChart(plot, m, runs, opts);
    });
  };
  document.querySelector("[data-action=compare]").addEventListener("click", async () => {
    const runs = selected();
    panel.hidden = false;
    document.getElementById("compare-runs").textContent = runs.map((r) => r.name).join(" · ");
    const lists = await Promise.all(runs.map((r) => TL.api("GET", TL.apiBase() + "/runs/" + TL.enc(r.id) + "/metrics")));
    const keys = Array.from(new Set(lists.flat().map((k) => k.key))).sort();
    const wanted = (d.spec.charts || []).filter((k) => keys.includes(k));
    const defaults = wanted.length ? wanted : keys.slice(0, 4);
    metricSel.size = Math.min(6, Math.max(2, keys.length));
    metricSel.replaceChildren(...keys.map((k) => { const o = document.createElement("option"); o.value = k; o.textContent = k; o.selected = defaults.includes(k); return o; }));
    drawCompare(runs);
    metricSel.onchange = () => drawCompare(runs);
    panel.scrollIntoView({ behavior: "smooth", block: "start" });
  });
  smooth.addEventListener("input", () => charts.forEach((c) => c.redraw()));
  xTime.addEventListener("change", () => charts.forEach((c) => c.redraw()));

  // Saved views.
  const viewSel = document.getElementById("view-select");
  viewSel.addEventListener("change", () => {
    if (viewSel.value) window.location.href = TL.base() + "?view=" + TL.enc(viewSel.value);
  });
  // Saving asks for a name inline (Enter saves, Escape cancels); saving a name again replaces it.
  const saveBtn = document.querySelector("[data-action=save-view]");
  const saveBox = document.getElementById("save-view-box");
  const saveName = document.getElementById("save-view-name");
  const closeSave = () => { saveBox.hidden = true; saveBtn.hidden = false; };
  saveBtn.addEventListener("click", () => {
    saveBtn.hidden = true; saveBox.hidden = false; saveName.focus(); saveName.select();
  });
  const save = async () => {
    const name = saveName.value.trim();
    if (!name) { saveName.focus(); return; }
    const boxes = Array.from(form.querySelectorAll("input[name=col]"));
    const spec = {
      q: form.q.value, text: form.text.value, group: form.group.value, sort: form.sort.value,
      cols: boxes.filter((b) => b.checked).map((b) => b.value),
      charts: document.getElementById("charts-field").value.split(",").filter(Boolean),
    };
    await TL.api("POST", TL.apiBase() + "/views", { name, spec });
    window.location.href = TL.base() + "?view=" + TL.enc(name);
  };
  document.querySelector("[data-action=save-view-ok]").addEventListener("click", save);
  document.querySelector("[data-action=save-view-cancel]").addEventListener("click", closeSave);
  saveName.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); save(); }
    if (ev.key === "Escape") { ev.preventDefault(); closeSave(); }
  });
});

// -- a run as a row of the workspace table (the same cells as the template's run_row) ------------
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
const fmtNum = (v) => { // as the server's "num" filter
  if (v === null || v === undefined) return "–";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return Math.abs(v) >= 10000 ? v.toLocaleString("en-US") : String(v);
    return String(Number(v.toPrecision(4)));
  }
  if (typeof v === "object") { const t = JSON.stringify(v); return t.length <= 80 ? t : t.slice(0, 79) + "…"; }
  return String(v);
};
const fmtAgo = (ts) => {
  if (ts === null || ts === undefined) return "–";
  const delta = Math.max(0, Date.now() / 1000 - ts);
  for (const [limit, unit, size] of [[60, "s", 1], [3600, "min", 60], [86400, "h", 3600], [86400 * 60, "d", 86400]]) {
    if (delta < limit) return Math.floor(delta / size) + " " + unit + " ago";
  }
  return new Date(ts * 1000).toISOString().slice(0, 10);
};
const fmtDuration = (s) => {
  if (s === null || s === undefined || s < 0 || Number.isNaN(s)) return "–";
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 60) return s.toFixed(1) + " s";
  let m = Math.floor(s / 60);
  const sec = Math.floor(s) % 60;
  if (m < 60) return m + "m " + String(sec).padStart(2, "0") + "s";
  const h = Math.floor(m / 60);
  m %= 60;
  return h + "h " + String(m).padStart(2, "0") + "m";
};
const lookup = (obj, dotted) => {
  let cur = obj;
  for (const part of dotted.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur) || !(part in cur)) return null;
    cur = cur[part];
  }
  return cur;
};
const cellValue = (r, key) => {
  const i = key.indexOf(".");
  const field = i < 0 ? key : key.slice(0, i);
  if (field === "config" || field === "summary") return lookup(r[field], key.slice(i + 1));
  return r[key] === undefined ? null : r[key];
};
function runRow(r) {
  const d = TL.data();
  const href = TL.base() + "/runs/" + TL.enc(r.id);
  const tr = el("tr");
  tr.dataset.href = href;
  tr.dataset.run = r.id;
  const sel = el("td", "sel");
  const box = el("input", "run-check");
  box.type = "checkbox";
  box.value = r.id;
  box.dataset.name = r.name;
  box.setAttribute("aria-label", "Select " + r.name);
  sel.append(box);
  const name = el("td", "name");
  const link = el("a", "run-name", r.name);
  link.href = href;
  const rename = el("button", "icon", "✎");
  rename.type = "button";
  rename.dataset.action = "rename";
  rename.dataset.run = r.id;
  rename.title = "Rename (r)";
  rename.setAttribute("aria-label", "Rename");
  name.append(link, " ", rename);
  const state = el("td");
  state.append(el("span", "state state-" + r.state, r.state));
  const created = el("td", "", fmtAgo(r.created_at));
  created.title = new Date(r.created_at * 1000).toISOString().slice(0, 19).replace("T", " ");
  const end = r.finished_at || r.updated_at;
  const tags = el("td", "tags");
  r.tags.forEach((t) => tags.append(el("span", "tag", t)));
  tr.append(sel, name, state, el("td", "", r.job_type || ""), created,
    el("td", "r", fmtDuration(end ? end - r.created_at : null)), tags);
  (d.columns || []).forEach((k) => tr.append(el("td", (d.numeric || []).includes(k) ? "r num" : "", fmtNum(cellValue(r, k)))));
  return tr;
}
