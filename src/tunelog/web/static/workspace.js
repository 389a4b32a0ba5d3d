// The project workspace: selecting runs, comparing their metrics, renaming, deleting, saved views.
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
  checks().forEach((c) => c.addEventListener("change", update));
  const all = document.getElementById("select-all");
  if (all) all.addEventListener("change", () => { checks().forEach((c) => (c.checked = all.checked)); update(); });

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
  document.querySelectorAll("[data-action=rename]").forEach((b) => b.addEventListener("click", () => {
    const link = b.closest("td").querySelector(".run-name");
    const span = document.createElement("span");
    span.className = "run-name";
    span.textContent = link.textContent;
    link.replaceWith(span);
    const restore = () => { link.textContent = span.textContent; span.replaceWith(link); };
    TL.editInPlace(span, { save: (t) => TL.patchRun(b.dataset.run, { name: t }) });
    span.addEventListener("blur", () => setTimeout(restore, 0), { once: true });
  }));

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
