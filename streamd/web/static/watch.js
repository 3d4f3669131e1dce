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
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
      video.play().catch(() => {});
    }
  }

  function show(kind, src) {
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
      }
    } catch (e) { /* the next poll tries again */ }
    setTimeout(poll, 1000 * Number(box.dataset.poll || 3));
  }

  window.addEventListener("DOMContentLoaded", () => {
    show(box.dataset.kind, box.dataset.src);
    setTimeout(poll, 1000 * Number(box.dataset.poll || 3));
  });
})();
