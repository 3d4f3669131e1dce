// The public watch page: plays the hearing's HLS while it is on air and follows its state
// (未开始 / 直播中 / 暂停 / 已结束) by polling the page's JSON. No inline script: the
// public pages may carry a strict Content-Security-Policy.
"use strict";
(function () {
  const box = document.getElementById("player");
  if (!box) return;
  const video = document.getElementById("video");
  const phase = document.getElementById("phase");
  const waiting = document.getElementById("waiting");
  const elsewhere = document.getElementById("elsewhere");
  const link = document.getElementById("elsewhere-link");
  const gone = document.getElementById("gone");
  const zh = document.body.dataset.lang !== "en";
  let playing = null;
  let hls = null;

  function stop() {
    if (hls) { hls.destroy(); hls = null; }
    video.removeAttribute("src");
    video.load();
    playing = null;
  }

  function play(src) {
    if (playing === src) return;
    stop();
    playing = src;
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ liveSyncDurationCount: 2, manifestLoadingMaxRetry: 1000 });
      hls.loadSource(src);
      hls.attachMedia(video);
      hls.on(window.Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
      // A playlist or segment answered 404 is withdrawn (a pause, the line off air):
      // stop at once rather than play on from the buffer; the next poll says what next.
      hls.on(window.Hls.Events.ERROR, (_e, data) => {
        const code = data && data.response ? data.response.code : 0;
        if (code === 404 || code === 410 || data.fatal) stop();
      });
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
      video.play().catch(() => {});
    }
  }

  function withdrawn() {
    // The hearing is no longer public (404): nothing of it may keep playing here.
    stop();
    video.hidden = true;
    elsewhere.hidden = true;
    waiting.hidden = true;
    if (gone) gone.hidden = false;
    phase.textContent = zh ? "不公开" : "not public";
    phase.dataset.phase = "gone";
  }

  function show(kind, src) {
    if (gone) gone.hidden = true;
    video.hidden = kind !== "hls";
    elsewhere.hidden = !kind || kind === "hls";
    waiting.hidden = Boolean(kind);
    if (kind === "hls") play(src); else stop();
    if (kind && kind !== "hls") link.href = src;
  }

  async function poll() {
    try {
      const resp = await fetch(box.dataset.state, { cache: "no-store" });
      if (resp.ok) {
        const s = await resp.json();
        phase.textContent = zh ? s.label_zh : s.label_en;
        phase.dataset.phase = s.phase;
        show(s.play_kind, s.play_url);
      } else if (resp.status === 404 || resp.status === 410) {
        withdrawn();
      }
    } catch (e) { /* the next poll tries again */ }
    setTimeout(poll, 1000 * Number(box.dataset.poll || 3));
  }

  window.addEventListener("DOMContentLoaded", () => {
    show(box.dataset.kind, box.dataset.src);
    setTimeout(poll, 1000 * Number(box.dataset.poll || 3));
  });
})();
