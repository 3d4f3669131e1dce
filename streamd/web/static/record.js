// The record page: plays the hearing's VOD playlist, seeks to a transcript line on click,
// highlights the line being played and keeps it in view, and filters lines by a search.
"use strict";
(function () {
  const box = document.getElementById("record");
  const video = document.getElementById("video");
  if (!box) return;
  const lines = Array.from(document.querySelectorAll("#lines li[data-offset]"));
  const offsets = lines.map((li) => parseFloat(li.dataset.offset));
  let current = null;

  if (video && box.dataset.src) {
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls({ maxBufferLength: 10, startFragPrefetch: true });
      hls.loadSource(box.dataset.src);
      hls.attachMedia(video);
      window.recordHls = hls;
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = box.dataset.src;
    }
  }

  function highlight() {
    const t = video.currentTime + 0.05;
    let at = -1;
    for (let i = 0; i < offsets.length; i++) { if (offsets[i] <= t) at = i; else break; }
    const li = at >= 0 ? lines[at] : null;
    if (li === current) return;
    if (current) { current.classList.remove("current"); current.removeAttribute("aria-current"); }
    current = li;
    if (li) {
      li.classList.add("current");
      li.setAttribute("aria-current", "true");
      li.scrollIntoView({ block: "nearest" });
    }
  }

  lines.forEach((li, i) => {
    li.querySelector("button").addEventListener("click", () => {
      if (!video) return;
      video.currentTime = offsets[i];
      video.play().catch(() => {});
      highlight();
    });
  });
  if (video) {
    video.addEventListener("timeupdate", highlight);
    video.addEventListener("seeked", highlight);
  }

  const search = document.getElementById("tr-search");
  if (search) {
    search.addEventListener("input", () => {
      const q = search.value.trim();
      document.querySelectorAll("#lines li").forEach((li) => {
        const text = li.textContent || "";
        li.hidden = q !== "" && !text.includes(q);
      });
    });
  }

  // The party's watermark: their name and the time, ticking, so a filmed screen names
  // who watched and when.
  const wm = document.getElementById("wm-clock");
  if (wm) {
    const pad = (n) => String(n).padStart(2, "0");
    const tick = () => {
      const d = new Date();
      wm.textContent = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    };
    tick();
    setInterval(tick, 1000);
  }
})();
