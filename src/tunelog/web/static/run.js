// The run page: a lazily drawn chart per metric, smoothing and x-axis controls, editing in place.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const d = TL.data();
  const runs = [{ id: d.run, name: document.getElementById("run-name").textContent }];
  const smooth = document.getElementById("smooth");
  const xTime = document.getElementById("x-time");
  const opts = () => ({ smooth: parseFloat(smooth.value) || 0, time: xTime.checked });
  const charts = [];
  const io = new IntersectionObserver((entries) => {
    entries.forEach((e) => {
      if (!e.isIntersecting) return;
      io.unobserve(e.target);
      const box = e.target;
      const plot = box.querySelector(".plot");
      const note = document.createElement("div");
      note.className = "note";
      box.appendChild(note);
      charts.push(TL.metricChart(plot, box.dataset.metric, runs, opts));
    });
  }, { rootMargin: "200px" });
  document.querySelectorAll(".chart[data-metric]").forEach((c) => io.observe(c));
  const redraw = () => charts.forEach((c) => c.redraw());
  smooth.addEventListener("input", redraw);
  xTime.addEventListener("change", redraw);
  const filter = document.getElementById("chart-filter");
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    document.querySelectorAll(".chart[data-metric]").forEach((c) => {
      c.hidden = q && !c.dataset.metric.toLowerCase().includes(q);
    });
  });

  const nameEl = document.getElementById("run-name");
  nameEl.addEventListener("click", () =>
    TL.editInPlace(nameEl, { save: (t) => TL.patchRun(d.run, { name: t }).then(() => { document.title = t + " · tunelog"; }) }));
  const notesEl = document.getElementById("run-notes");
  const hint = document.querySelector(".notes .hint");
  const editNotes = () => {
    if (hint) hint.hidden = true;
    TL.editInPlace(notesEl, { multiline: true, save: (t) => TL.patchRun(d.run, { notes: t }) });
  };
  notesEl.addEventListener("click", editNotes);
  if (hint) hint.addEventListener("click", editNotes);

  const tagsEl = document.getElementById("run-tags");
  document.querySelector("[data-action=edit-tags]").addEventListener("click", () => {
    const current = Array.from(tagsEl.querySelectorAll(".tag")).map((t) => t.textContent);
    const input = document.createElement("input");
    input.type = "text";
    input.id = "tags-input";
    input.value = current.join(", ");
    input.placeholder = "comma-separated tags";
    input.className = "narrow";
    tagsEl.replaceChildren(input);
    input.focus();
    const render = (tags) => {
      tagsEl.replaceChildren(...tags.map((t) => { const s = document.createElement("span"); s.className = "tag"; s.textContent = t; return s; }));
    };
    input.addEventListener("keydown", async (ev) => {
      if (ev.key === "Escape") { render(current); }
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      const tags = input.value.split(",").map((t) => t.trim()).filter(Boolean);
      try { const r = await TL.patchRun(d.run, { tags }); render(r.tags); TL.toast("Saved"); }
      catch (e) { render(current); }
    });
  });
});
