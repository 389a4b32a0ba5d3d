// Editing a report: the blocks' forms are read back into the report body and saved with PUT.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const d = TL.data();
  const url = TL.apiBase() + "/reports/" + d.report;
  const read = () => Array.from(document.querySelectorAll(".report-block")).map((el) => {
    const b = { type: el.dataset.type };
    el.querySelectorAll(".block-form [name]").forEach((f) => {
      if (f.multiple) b[f.name] = Array.from(f.selectedOptions).map((o) => o.value);
      else if (f.name === "cols") b.cols = f.value.split(",").map((s) => s.trim()).filter(Boolean);
      else b[f.name] = f.value;
    });
    return b;
  });
  const save = async (blocks) => {
    await TL.api("PUT", url, { title: document.getElementById("report-title").value, body: { blocks } });
    window.location.reload();
  };
  document.querySelector("[data-action=save-report]").addEventListener("click", () => save(read()));
  document.querySelectorAll("[data-add]").forEach((b) =>
    b.addEventListener("click", () => save(read().concat([{ type: b.dataset.add }]))));
  document.querySelectorAll(".report-block").forEach((el, i) => {
    el.querySelectorAll("[data-move]").forEach((m) => m.addEventListener("click", () => {
      const blocks = read();
      const j = i + Number(m.dataset.move);
      if (j < 0 || j >= blocks.length) return;
      [blocks[i], blocks[j]] = [blocks[j], blocks[i]];
      save(blocks);
    }));
    el.querySelector("[data-remove]").addEventListener("click", () => {
      const blocks = read();
      blocks.splice(i, 1);
      save(blocks);
    });
  });
  document.getElementById("export-link").addEventListener("click", async (ev) => {
    ev.preventDefault();
    await TL.api("PUT", url, { title: document.getElementById("report-title").value, body: { blocks: read() } });
    window.location.href = ev.target.href;
  });
});
