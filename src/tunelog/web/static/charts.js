// Charts with plotly.js (served from the installed plotly package): line per run, min–max band
// when the server downsampled, EMA smoothing, x by step or by time, zoom that refetches detail.
"use strict";
(function () {
  const TL = (window.TL = window.TL || {});
  const COLORS = ["#2f5bd3", "#d9534f", "#2e9d6a", "#c7841a", "#8a4fd1", "#1d9bb5", "#b5467a", "#6b7079", "#5a8f29", "#a0522d"];
  TL.colors = COLORS;

  TL.smooth = function (values, alpha) {
    if (!alpha) return values;
    const out = [];
    let last = null, n = 0;
    for (const v of values) {
      if (v === null || v === undefined) { out.push(null); continue; }
      last = last === null ? v : last * alpha + (1 - alpha) * v;
      n += 1;
      out.push(last / 1); // bias is small for the first points; keep the raw EMA
    }
    return out;
  };

  // series: [{name, steps, values, mins, maxs, times, downsampled, total}]
  TL.plot = function (el, series, opts) {
    opts = opts || {};
    const traces = [];
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const x = opts.time ? s.times.map((t) => new Date(t * 1000)) : s.steps;
      if (s.downsampled && s.mins && s.maxs && !opts.smooth) {
        traces.push({ x, y: s.maxs, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false, type: "scatter" });
        traces.push({ x, y: s.mins, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: color + "22", hoverinfo: "skip", showlegend: false, type: "scatter" });
      }
      if (opts.smooth) {
        traces.push({ x, y: s.values, mode: "lines", name: s.name + " (raw)", line: { color: color + "44", width: 1 }, showlegend: false, hoverinfo: "skip", type: "scatter" });
      }
      traces.push({ x, y: TL.smooth(s.values, opts.smooth), mode: s.values.length === 1 ? "markers" : "lines", name: s.name, line: { color, width: 1.6 }, marker: { color }, type: "scatter" });
    });
    const layout = {
      margin: { l: 48, r: 8, t: 6, b: 30 },
      showlegend: series.length > 1,
      legend: { orientation: "h", y: -0.2, font: { size: 10 } },
      xaxis: { title: { text: opts.time || series.length > 1 ? "" : "step", font: { size: 10 } }, gridcolor: "#eef0f2", type: opts.time ? "date" : "linear" },
      yaxis: { gridcolor: "#eef0f2", zeroline: false },
      hovermode: "x unified",
      font: { family: "system-ui, sans-serif", size: 11 },
      paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    };
    window.Plotly.react(el, traces, layout, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] });
  };

  // A chart for one metric of several runs, with zoom-to-refetch (server-side downsampling).
  TL.metricChart = function (el, metric, runs, getOpts) {
    let series = [];
    let range = null;
    const load = async () => {
      const q = range ? "&min_step=" + Math.floor(range[0]) + "&max_step=" + Math.ceil(range[1]) : "";
      series = await Promise.all(runs.map(async (r) => {
        const s = await TL.api("GET", TL.apiBase() + "/runs/" + TL.enc(r.id) + "/metrics/" + TL.enc(metric) + "?max_points=800" + q);
        s.name = r.name;
        return s;
      }));
      draw();
    };
    // The step range whose points were logged inside a zoomed time window (Plotly gives the ends as
    // local date strings, the way it drew the Date values).
    const stepsIn = (r) => {
      const a = Date.parse(String(r[0]).replace(" ", "T")) / 1000;
      const b = Date.parse(String(r[1]).replace(" ", "T")) / 1000;
      let lo = Infinity, hi = -Infinity;
      series.forEach((s) => s.times.forEach((t, i) => {
        if (t >= a && t <= b) { lo = Math.min(lo, s.steps[i]); hi = Math.max(hi, s.steps[i]); }
      }));
      return lo <= hi ? [lo, hi] : null;
    };
    const draw = () => {
      const o = getOpts();
      TL.plot(el, series, o);
      const note = el.parentElement.querySelector(".note");
      if (note) {
        const ds = series.filter((s) => s.downsampled);
        note.textContent = ds.length ? "Downsampled from " + ds.map((s) => s.total).join(", ") + " points; zoom in for detail." : "";
      }
    };
    load().then(() => {
      el.on("plotly_relayout", (ev) => {
        if (ev["xaxis.range[0]"] !== undefined) {
          const r = [ev["xaxis.range[0]"], ev["xaxis.range[1]"]];
          // With x = time the zoom is a time window: refetch the steps logged inside it.
          range = getOpts().time ? stepsIn(r) : r;
          if (range) load();
        }
        else if (ev["xaxis.autorange"]) { if (range) { range = null; load(); } }
      });
      // Marks the chart as zoomable (tests and scripts wait on it rather than on timing).
      el.dataset.zoom = "on";
    });
    return { redraw: draw };
  };
})();
