// streamd web pages: forms go to the JSON API with the session's CSRF token; marked parts
// of the page re-render from the server when the live feed says something changed.
// No framework, no external requests.
"use strict";

const zh = document.body.dataset.lang !== "en";
const t = (z, e) => (zh ? z : e);
const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

function say(text, bad) {
  const el = document.getElementById("status");
  if (!el) return;
  el.textContent = text;
  el.className = "status " + (bad ? "bad" : "good");
}

async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  const resp = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  if (resp.status !== 204) {
    try { data = await resp.json(); } catch (e) { data = null; }
  }
  return { ok: resp.ok, status: resp.status, data };
}

function problem(r) {
  const d = r.data || {};
  const extra = (d.errors || []).map((e) => e.field + ": " + e.message).join("; ");
  return (d.detail || d.title || ("HTTP " + r.status)) + (extra && !d.detail ? " " + extra : "");
}

const STATES = {
  booked: ["已预约", "booked"], preparing: ["准备中", "preparing"], ready: ["就绪", "ready"],
  live: ["直播中", "live"], paused: ["已暂停", "paused"], off_air: ["停止直播", "off air"],
  ended: ["已闭庭", "ended"], aborted: ["已中止", "aborted"],
};
const stateName = (s) => (STATES[s] ? t(STATES[s][0], STATES[s][1]) : s);

const renderers = {
  booking(d) {
    if (d.line) return t("已分配线路 ", "Line assigned: ") + d.line;
    const why = d.line_reason ? (zh ? d.line_reason.zh : d.line_reason.en) : d.line_status;
    return t("未分配线路：", "No line: ") + why;
  },
  outcome(d) {
    const delivered = { acked: t("法庭已确认", "confirmed by the room"),
      unacknowledged: t("法庭未确认", "NOT confirmed by the room") }[d.delivery] || d.delivery || "";
    return t("状态：", "State: ") + stateName(d.state) + (delivered ? " · " + delivered : "") +
      (d.message ? " · " + d.message : "");
  },
  transcript(d) { return t("已记录第 ", "Recorded line ") + d.seq + t(" 条", ""); },
  approval(d) { return t("已提交：", "Done: ") + (d.status || "ok"); },
  ok() { return t("已完成", "Done"); },
};

function formBody(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.value === "" && !el.required) continue;
    body[el.name] = el.hasAttribute("data-int") ? parseInt(el.value, 10) : el.value;
  }
  return body;
}

document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
  ev.preventDefault();
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  const button = form.querySelector('[type="submit"]');
  if (button) button.disabled = true;
  const answer = form.querySelector(".answer");
  try {
    const r = await api(form.dataset.method || "POST", form.dataset.api, formBody(form));
    const text = r.ok ? (renderers[form.dataset.render || "ok"] || renderers.ok)(r.data || {}) : problem(r);
    say(text, !r.ok);
    if (answer) answer.textContent = text;
    if (r.ok && form.dataset.then) { window.location.assign(form.dataset.then); return; }
    if (r.ok && form.dataset.reset) {
      const field = form.elements[form.dataset.reset];
      if (field) { field.value = ""; field.focus(); }
    }
    if (r.ok) refresh();
  } catch (e) {
    say(t("网络错误：", "Network error: ") + e, true);
  } finally {
    if (button) button.disabled = false;
  }
});

document.addEventListener("click", async (ev) => {
  const el = ev.target;
  if (el instanceof HTMLElement && el.hasAttribute("data-logout")) {
    await api("POST", "/api/v1/auth/logout");
    window.location.assign("/login");
  }
});

// ---- live parts ------------------------------------------------------------------------

let pending = null;
async function refreshNow() {
  pending = null;
  for (const el of document.querySelectorAll("[data-part]")) {
    const url = new URL(window.location.href);
    url.searchParams.set("part", el.dataset.part);
    try {
      const resp = await fetch(url, { credentials: "same-origin" });
      if (resp.redirected) {  // the session ended: log in again, then come back here
        window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
        return;
      }
      if (resp.ok) {
        const html = await resp.text();
        if (html !== el.dataset.html) { el.innerHTML = html; el.dataset.html = html; }
      }
    } catch (e) { /* the next event retries */ }
  }
}
function refresh() {
  if (!pending) pending = setTimeout(refreshNow, 250);
}

if (document.body.dataset.live) {
  const types = document.body.dataset.live;
  const feed = new EventSource("/api/v1/feed?types=" + encodeURIComponent(types));
  for (const type of types.split(",")) feed.addEventListener(type, refresh);
  feed.addEventListener("error", () => say(t("实时连接中断，正在重连…", "Live feed lost; reconnecting…"), true));
  feed.addEventListener("open", () => { const s = document.getElementById("status"); if (s && s.classList.contains("bad")) say(""); });
}

// ---- HLS previews (vendored hls.js; Safari plays HLS itself) ------------------------------

window.addEventListener("load", () => {
  for (const video of document.querySelectorAll("video[data-hls]")) {
    const src = video.dataset.hls;
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls({ liveSyncDurationCount: 2, manifestLoadingMaxRetry: 1000 });
      hls.loadSource(src);
      hls.attachMedia(video);
      hls.on(window.Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
      video.play().catch(() => {});
    }
  }
});
