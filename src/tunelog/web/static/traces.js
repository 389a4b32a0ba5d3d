// The traces page: calls, tokens and cost over time, stacked by model.
"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const box = document.getElementById("span-stats");
  if (!box || !window.Plotly) return;
  const q = box.dataset.query ? "?" + box.dataset.query : "";
  const stats = await TL.api("GET", TL.apiBase() + "/span-stats" + q);
  if (!stats.length) { box.hidden = true; return; }
  const models = Array.from(new Set(stats.map((s) => s.model))).sort();
  const pick = { calls: (s) => s.calls, tokens: (s) => s.prompt_tokens + s.completion_tokens, cost: (s) => s.cost_usd };
  // One legend (on the first chart) for all three: the colours follow the same model order.
  box.querySelectorAll("[data-stat]").forEach((el, n) => {
    const f = pick[el.dataset.stat];
    const traces = models.map((m, i) => {
      const rows = stats.filter((s) => s.model === m);
      return { type: "bar", name: m, x: rows.map((s) => new Date((s.start + s.width / 2) * 1000)), y: rows.map(f) };
    });
    Plotly.newPlot(el, traces, {
      barmode: "stack", margin: { l: 44, r: 6, t: 4, b: 24 }, showlegend: n === 0 && models.length > 1,
      legend: { orientation: "h", y: -0.25, font: { size: 10 } }, xaxis: { type: "date" },
      font: { family: "system-ui, sans-serif", size: 11 }, bargap: 0.1,
    }, { displaylogo: false, responsive: true });
  });
});
