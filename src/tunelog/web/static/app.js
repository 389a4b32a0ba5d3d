// tunelog dashboard: shared behaviour (keyboard, editing in place, paged table boxes).
// User content is only ever set with textContent; HTML fragments come escaped from the server.
"use strict";
const TL = (window.TL = window.TL || {});

TL.data = function () {
  const el = document.getElementById("page-data");
  return el ? JSON.parse(el.textContent) : {};
};
TL.enc = encodeURIComponent;
TL.base = function () {
  const b = document.body.dataset;
  return "/" + TL.enc(b.entity) + "/" + TL.enc(b.project);
};
TL.apiBase = function () {
  const b = document.body.dataset;
  return "/api/v1/" + TL.enc(b.entity) + "/" + TL.enc(b.project);
};
TL.toast = function (text, bad) {
  const t = document.createElement("div");
  t.className = "toast" + (bad ? " bad" : "");
  t.textContent = text;
  document.body.appendChild(t);
  setTimeout(() => t.remove(), bad ? 6000 : 2500);
};
TL.api = async function (method, url, body) {
  const opts = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(url, opts);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
  if (!resp.ok) {
    const msg = (data && data.error) || resp.statusText;
    TL.toast(msg, true);
    throw new Error(msg);
  }
  return data;
};

// -- editing a run in place ----------------------------------------------------------------------
TL.patchRun = function (runId, changes) {
  return TL.api("PATCH", TL.apiBase() + "/runs/" + TL.enc(runId), changes);
};
TL.editInPlace = function (el, opts) {
  // opts: multiline, save(text) -> Promise
  if (el.isContentEditable) return;
  const before = el.textContent;
  el.contentEditable = "plaintext-only";
  if (el.contentEditable !== "plaintext-only") el.contentEditable = "true";
  el.classList.add("editing");
  el.focus();
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    el.contentEditable = "false";
    el.classList.remove("editing");
    el.removeEventListener("keydown", onKey);
    el.removeEventListener("blur", onBlur);
    const text = el.textContent.trim();
    if (!save || text === before.trim()) { el.textContent = before; return; }
    try { await opts.save(text); el.textContent = text; TL.toast("Saved"); }
    catch (e) { el.textContent = before; }
  };
  const onKey = (ev) => {
    if (ev.key === "Escape") { ev.preventDefault(); finish(false); }
    else if (ev.key === "Enter" && (!opts.multiline || ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); finish(true); }
    ev.stopPropagation();
  };
  const onBlur = () => finish(true);
  el.addEventListener("keydown", onKey);
  el.addEventListener("blur", onBlur);
};

// -- table boxes: server-rendered pages of a stored table -----------------------------------------
TL.loadTableBox = async function (box, offset, q) {
  const body = box.querySelector(".table-body");
  const url = box.dataset.src + "?offset=" + (offset || 0) + (q ? "&q=" + TL.enc(q) : "") +
    (box.dataset.limit ? "&limit=" + box.dataset.limit : "");
  const resp = await fetch(url);
  const html = await resp.text();
  if (!resp.ok) { body.textContent = "Could not load the table (" + resp.status + ")."; return; }
  body.innerHTML = html; // rendered and escaped by the server's templates
  body.querySelectorAll("[data-page]").forEach((b) =>
    b.addEventListener("click", () => TL.loadTableBox(box, b.dataset.page, q)));
};
TL.initTableBoxes = function () {
  document.querySelectorAll(".table-box[data-src]").forEach((box) => {
    TL.loadTableBox(box, 0, "");
    const search = box.querySelector(".table-search");
    if (search) {
      let timer = null;
      search.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => TL.loadTableBox(box, 0, search.value.trim()), 250);
      });
    }
  });
};

// -- keyboard ------------------------------------------------------------------------------------
TL.rows = function () {
  const t = document.querySelector("[data-rows]");
  return t ? Array.from(t.querySelectorAll("tbody tr[data-href]")).filter((r) => !r.hidden) : [];
};
TL.moveCursor = function (delta) {
  const rows = TL.rows();
  if (!rows.length) return;
  let i = rows.findIndex((r) => r.classList.contains("cursor"));
  if (i >= 0) rows[i].classList.remove("cursor");
  i = Math.max(0, Math.min(rows.length - 1, i < 0 ? 0 : i + delta));
  rows[i].classList.add("cursor");
  rows[i].scrollIntoView({ block: "nearest" });
};
TL.cursorRow = function () {
  return document.querySelector("tr.cursor[data-href]");
};
document.addEventListener("DOMContentLoaded", () => {
  let pendingG = false;
  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target.tagName || "").toLowerCase();
    if (ev.target.isContentEditable || tag === "input" || tag === "textarea" || tag === "select") {
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const base = document.body.dataset.project ? TL.base() : null;
    if (pendingG) {
      pendingG = false;
      const dest = { p: "/", r: base, t: base && base + "/traces", a: base && base + "/artifacts", o: base && base + "/reports" }[ev.key];
      if (dest) { ev.preventDefault(); window.location.href = dest; }
      return;
    }
    if (ev.key === "g") { pendingG = true; setTimeout(() => (pendingG = false), 1200); return; }
    if (ev.key === "/") {
      const f = document.getElementById("filter") || document.querySelector("input[type=search], input[type=text]");
      if (f) { ev.preventDefault(); f.focus(); f.select(); }
    } else if (ev.key === "j") { TL.moveCursor(1); }
    else if (ev.key === "k") { TL.moveCursor(-1); }
    else if (ev.key === "Enter") {
      const r = TL.cursorRow();
      if (r) { ev.preventDefault(); window.location.href = r.dataset.href; }
    } else if (ev.key === "x") {
      const r = TL.cursorRow();
      const box = r && r.querySelector("input[type=checkbox]");
      if (box) { box.click(); }
    } else if (ev.key === "r") {
      const r = TL.cursorRow();
      const b = r && r.querySelector("[data-action=rename]");
      if (b) { ev.preventDefault(); b.click(); }
    } else if (ev.key === "?") {
      const d = document.getElementById("help");
      if (d && !d.open) d.showModal();
    }
  });
  document.querySelectorAll("[data-action=help]").forEach((b) =>
    b.addEventListener("click", () => document.getElementById("help").showModal()));
  // Delegated, so rows added later (a group's runs) open too.
  document.addEventListener("dblclick", (ev) => {
    const tr = ev.target.closest("tr[data-href]");
    if (!tr || ev.target.closest("a, button, input, [contenteditable=true]")) return;
    window.location.href = tr.dataset.href;
  });
  TL.initTableBoxes();
});
