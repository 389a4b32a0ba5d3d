// Draws a report's charts from the data embedded in the page (#report-data). Self-contained: the
// exported HTML file inlines this script and plotly.js, so it works offline without the server.
"use strict";
(function () {
  const COLORS = ["#2f5bd3", "#d9534f", "#2e9d6a", "#c7841a", "#8a4fd1", "#1d9bb5", "#b5467a", "#6b7079"];
  function draw() {
    const el = document.getElementById("report-data");
    if (!el || !window.Plotly) return;
    const blocks = JSON.parse(el.textContent);
    document.querySelectorAll(".report-chart[data-i]").forEach((plot) => {
      const b = blocks[Number(plot.dataset.i)];
      if (!b || !Array.isArray(b.data)) return;
      const traces = b.data.map((s, i) => ({
        x: s.steps, y: s.values, mode: s.values.length === 1 ? "markers" : "lines", name: s.name,
        line: { color: COLORS[i % COLORS.length], width: 1.6 }, type: "scatter",
      }));
      const layout = {
        margin: { l: 48, r: 8, t: 6, b: 30 }, showlegend: b.data.length > 1, legend: { orientation: "h", y: -0.2 },
        xaxis: { title: { text: "step" }, gridcolor: "#eef0f2" }, yaxis: { gridcolor: "#eef0f2" },
        font: { family: "system-ui, sans-serif", size: 11 }, hovermode: "x unified",
      };
      window.Plotly.newPlot(plot, traces, layout, { displaylogo: false, responsive: true });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
