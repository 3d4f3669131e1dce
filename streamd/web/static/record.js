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

  // Correcting a line (Art. 7): each save is a new version through the transcript-version
  // API; the page then shows the current text and the whole history the API returns.
  const zhPage = document.body.dataset.lang !== "en";
  const say2 = (z, e) => (zhPage ? z : e);
  const hhmmss = (iso) => {
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toTimeString().slice(0, 8);
  };
  function showHistory(li, line) {
    const box = li.querySelector("details.history");
    const list = box.querySelector("ol.versions");
    list.replaceChildren();
    line.versions.slice(1).forEach((v) => {
      const item = document.createElement("li");
      const before = document.createElement("q");
      before.className = "before";
      before.textContent = v.before;
      const after = document.createElement("q");
      after.className = "after";
      after.textContent = v.text;
      item.append(v.by + " · " + hhmmss(v.at) + " · " + say2("原为", "before") + ": ",
        before, " → ", after);
      list.append(item);
    });
    box.querySelector(".count").textContent = String(line.versions.length - 1);
    box.hidden = line.versions.length < 2;
  }
  document.querySelectorAll("#lines button.edit").forEach((edit) => {
    const li = edit.closest("li");
    const form = li.querySelector("form.fix");
    const area = form.querySelector("textarea");
    edit.addEventListener("click", () => {
      area.value = li.querySelector(".text").textContent;
      form.hidden = false;
      area.focus();
    });
    form.querySelector(".cancel").addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await api("POST", "/api/v1/hearings/" + box.dataset.hearing + "/record/corrections", {
        session: edit.dataset.session, seq: parseInt(edit.dataset.seq, 10),
        base_version: parseInt(edit.dataset.version, 10), text: area.value,
      });
      if (!r.ok) {
        say((r.status === 409 ? say2("该行已被他人更正，请刷新页面。", "Someone corrected this line meanwhile; reload the page.") : problem(r)), true);
        return;
      }
      li.querySelector(".text").textContent = r.data.text;
      edit.dataset.version = String(r.data.version);
      form.hidden = true;
      showHistory(li, r.data);
      say(say2("已保存更正（第 ", "Correction saved (version ") + r.data.version + say2(" 版）", ")"), false);
    });
  });

  const search = document.getElementById("tr-search");
  if (search) {
    search.addEventListener("input", () => {
      const q = search.value.trim();
      document.querySelectorAll("#lines > li").forEach((li) => {
        const own = li.querySelector("button.line");
        const text = (own || li).textContent || "";
        const hit = q !== "" && text.includes(q);
        li.hidden = q !== "" && !hit;
        li.classList.toggle("match", hit);
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
    // Full screen takes the player with its watermark, never the bare video (the video's
    // own full-screen control is hidden for a party).
    const full = document.getElementById("wm-full");
    const wrap = wm.closest(".video-wrap");
    if (full && wrap && wrap.requestFullscreen) {
      full.addEventListener("click", () => wrap.requestFullscreen().catch(() => {}));
    }
  }
})();
