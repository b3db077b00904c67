/* footy: the little JavaScript of the coach's pages. Plain, no build, no CDN.
 *
 * Every page works without it (forms post and pages re-render); this file adds the upload
 * progress bar, live progress, click-to-pick on the frames, the confirm and mismatch dialogs.
 * It talks to the same JSON API as any script: /api/jobs/..., with the CSRF token of the page.
 * Errors shown are always the server's own code and message.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------ the API

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function ApiError(status, error) {
    error = error || {};
    this.status = status;
    this.code = error.code || ("HTTP_" + status);
    this.message = error.message || "Request failed";
    this.details = error;
  }

  /** Parse footy's envelope {ok, data, error, message}; anything else becomes an ApiError that says so. */
  function parseEnvelope(status, statusText, text) {
    var env = null;
    try { env = JSON.parse(text); } catch (e) { env = null; }
    if (!env || typeof env !== "object" || !("ok" in env)) {
      throw new ApiError(status, {code: "HTTP_" + status,
        message: "Unexpected response from the server (" + status + " " + (statusText || "") + ")"});
    }
    if (!env.ok || status >= 400) {
      throw new ApiError(status, env.error || {code: "HTTP_" + status, message: env.message || "Request failed"});
    }
    return env.data;
  }

  function api(method, url, body) {
    var opts = {method: method, credentials: "same-origin",
                headers: {"Accept": "application/json", "X-CSRFToken": csrfToken()}};
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (res) {
      return res.text().then(function (text) { return parseEnvelope(res.status, res.statusText, text); });
    }, function (err) {
      throw new ApiError(0, {code: "NETWORK_ERROR", message: "footy could not be reached: " + err.message});
    });
  }

  // ------------------------------------------------------------------ showing errors

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function boxWords(b) {
    return ["x", "y", "w", "h"].map(function (k) { return k + " " + Number(b[k]).toFixed(3); }).join(", ");
  }

  /** The server's code and message (and any details) in a container; never a made-up text. */
  function showError(container, err) {
    if (!container) return;
    container.textContent = "";
    var box = el("div", "alert alert-error");
    box.setAttribute("role", "alert");
    box.setAttribute("data-error-code", err.code);
    var p = el("p");
    p.appendChild(el("strong", "error-code", err.code));
    p.appendChild(document.createTextNode(" "));
    p.appendChild(el("span", "error-message", err.message));
    box.appendChild(p);
    var details = err.details || {};
    var keys = Object.keys(details).filter(function (k) {
      return k !== "code" && k !== "message" && details[k] !== null && details[k] !== undefined;
    });
    if (keys.length) {
      var ul = el("ul", "error-details");
      keys.forEach(function (k) {
        var v = details[k];
        if (v && typeof v === "object" && !Array.isArray(v) && "x" in v) v = boxWords(v);
        else if (Array.isArray(v)) v = v.join(", ");
        var li = el("li");
        li.appendChild(el("span", "k", k.replace(/_/g, " ")));
        li.appendChild(document.createTextNode(" " + v));
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    container.appendChild(box);
    container.hidden = false;
  }

  function clearError(container) {
    if (!container) return;
    container.textContent = "";
    container.hidden = true;
  }

  function jsonBlock(id) {
    var node = document.getElementById(id);
    if (!node) return {};
    try { return JSON.parse(node.textContent); } catch (e) { return {}; }
  }

  function mb(bytes) {
    if (bytes < 1024 * 1024) return Math.max(1, Math.round(bytes / 1024)) + " KB";
    if (bytes < 1024 * 1024 * 1024) return (bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0) + " MB";
    return (bytes / (1024 * 1024 * 1024)).toFixed(2) + " GB";
  }

  function etaWords(eta) {
    if (eta === null || eta === undefined) return "estimating time left…";
    if (eta < 60) return "about " + Math.max(1, eta) + " s left";
    if (eta < 3600) return "about " + Math.round(eta / 60) + " min left";
    return "about " + Math.floor(eta / 3600) + " h " + Math.round((eta % 3600) / 60) + " min left";
  }

  // ------------------------------------------------------------------ the upload

  function initUpload() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    var input = document.getElementById("video-input");
    var button = document.getElementById("upload-btn");
    var errors = document.getElementById("upload-error");
    var wrap = document.getElementById("upload-progress");
    var bar = document.getElementById("upload-bar");
    var percent = document.getElementById("upload-percent");
    var bytes = document.getElementById("upload-bytes");
    var busy = false;

    input.addEventListener("change", function () { clearError(errors); });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (busy) return;
      clearError(errors);
      var file = input.files && input.files[0];
      if (!file) {
        showError(errors, {code: "INVALID_PAYLOAD", message: "video: choose a video file first"});
        return;
      }
      var max = Number(form.getAttribute("data-max-bytes"));
      if (max && file.size > max) {
        // the server refuses it too (413 UPLOAD_TOO_LARGE); saying so now spares a long upload
        showError(errors, {code: "UPLOAD_TOO_LARGE", message: "The upload is larger than the " +
          form.getAttribute("data-max-mb") + " MB limit (“" + file.name + "” is " + mb(file.size) + ")"});
        return;
      }
      busy = true;
      button.disabled = true;
      button.textContent = "Uploading…";
      wrap.hidden = false;
      bar.value = 0;
      percent.textContent = "0 %";
      bytes.textContent = "0 of " + mb(file.size);

      var data = new FormData();
      data.append("video", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-api"));
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var p = Math.min(100, Math.floor(100 * e.loaded / e.total));
        bar.value = p;
        percent.textContent = p + " %";
        bytes.textContent = mb(e.loaded) + " of " + mb(e.total);
        if (p >= 100) bytes.textContent = "Uploaded; footy is checking the video…";
      });
      function failed(err) {
        busy = false;
        button.disabled = false;
        button.textContent = "Upload";
        wrap.hidden = true;
        showError(errors, err);
      }
      xhr.addEventListener("load", function () {
        var job;
        try {
          job = parseEnvelope(xhr.status, xhr.statusText, xhr.responseText);
        } catch (err) {
          failed(err);
          return;
        }
        bar.value = 100;
        percent.textContent = "100 %";
        bytes.textContent = "Uploaded. Opening the job…";
        window.location.assign("/jobs/" + encodeURIComponent(job.job_id));
      });
      xhr.addEventListener("error", function () {
        failed(new ApiError(0, {code: "NETWORK_ERROR", message: "The upload was interrupted; check the connection and try again"}));
      });
      xhr.send(data);
    });
  }

  // ------------------------------------------------------------------ the jobs list refreshes itself

  function initJobsTable() {
    var table = document.getElementById("jobs-table");
    if (!table || !table.querySelector('tr[data-active="1"]')) return;
    var steps = jsonBlock("step-words");
    var states = jsonBlock("status-words");
    function tick() {
      api("GET", table.getAttribute("data-api")).then(function (jobs) {
        var active = false;
        jobs.forEach(function (job) {
          var row = table.querySelector('tr[data-job-id="' + job.job_id + '"]');
          if (!row) return;
          var state = row.querySelector('[data-field="state"]');
          state.textContent = job.status === "WAITING_FOR_SELECTION" && job.candidates.status === "ready"
            ? "Pick the player" : (states[job.status] || job.status);
          state.className = "badge badge-" + job.status.toLowerCase();
          row.querySelector("progress").value = job.progress.percent;
          row.querySelector('[data-field="percent"]').textContent = job.progress.percent + " %";
          row.querySelector('[data-field="step"]').textContent = steps[job.progress.step] || job.progress.step;
          if (["WAITING_FOR_SELECTION", "QUEUED", "RUNNING"].indexOf(job.status) >= 0) active = true;
        });
        if (active) window.setTimeout(tick, 3000);
      }, function () { window.setTimeout(tick, 6000); });
    }
    window.setTimeout(tick, 3000);
  }

  // ------------------------------------------------------------------ one job

  function initJob() {
    var root = document.getElementById("job");
    if (!root) return;
    var ctx = {
      root: root,
      api: root.getAttribute("data-api"),
      statusUrl: root.getAttribute("data-status-url"),
      phase: root.getAttribute("data-phase"),
      job: null
    };
    if (ctx.phase === "preparing" || ctx.phase === "progress") pollStatus(ctx);
    if (document.getElementById("frames")) {
      initPicking(ctx);
      initConfirm(ctx);
      initStart(ctx);
    }
  }

  var FRAMES_STEPS = ["PREVIEWS_READY", "TRACKING_CANDIDATES", "CANDIDATES_READY"];

  /** The status route, every second; the page is re-rendered when what it shows changes. */
  function pollStatus(ctx) {
    var root = ctx.root;
    var steps = jsonBlock("step-words");
    var status = root.getAttribute("data-status");
    var hadFrames = root.getAttribute("data-has-frames") === "1";
    var bar = document.getElementById("progress-bar");
    var errors = document.getElementById("poll-error");
    function field(name) { return root.querySelector('[data-field="' + name + '"]'); }
    var failures = 0;
    function tick() {
      api("GET", ctx.statusUrl).then(function (s) {
        failures = 0;
        clearError(errors);
        var phaseChanged = ctx.phase === "preparing"
          ? (s.state !== status || s.step === "CANDIDATES_READY" || (FRAMES_STEPS.indexOf(s.step) >= 0) !== hadFrames)
          : (s.state !== "QUEUED" && s.state !== "RUNNING");
        if (phaseChanged) {
          window.location.reload();
          return;
        }
        if (s.state !== status) {
          status = s.state;
          root.setAttribute("data-status", s.state);
          var badge = document.getElementById("job-state");
          var states = jsonBlock("status-words");
          if (badge) { badge.textContent = states[s.state] || s.state; badge.className = "badge badge-" + s.state.toLowerCase(); }
        }
        root.setAttribute("data-step", s.step);
        bar.value = s.progress;
        field("percent").textContent = s.progress + " %";
        field("step-words").textContent = steps[s.step] || s.step;
        field("message").textContent = s.message;
        var eta = field("eta");
        if (eta) eta.textContent = s.state === "RUNNING" ? " · " + etaWords(s.eta_sec) : "";
        window.setTimeout(tick, 1000);
      }, function (err) {
        failures += 1;
        if (failures >= 3) showError(errors, err);
        window.setTimeout(tick, Math.min(10000, 1000 * Math.pow(2, failures)));
      });
    }
    window.setTimeout(tick, 1000);
  }

  // ------------------------------------------------------------------ picking the player

  function initPicking(ctx) {
    var errors = document.getElementById("action-error");
    var busy = false;

    function chipsFor(frameKey, trackId) {
      return document.querySelectorAll('.chip[data-frame-key="' + frameKey + '"][data-track-id="' + trackId + '"]');
    }
    function boxFor(frameKey, trackId) {
      return document.querySelector('g.track[data-frame-key="' + frameKey + '"][data-track-id="' + trackId + '"]');
    }
    function markPicked(frameKey, trackId) {
      document.querySelectorAll("g.track.picked, .chip.picked").forEach(function (n) {
        n.classList.remove("picked");
        if (n.tagName.toLowerCase() === "g") n.setAttribute("aria-pressed", "false");
      });
      var g = boxFor(frameKey, trackId);
      if (g) { g.classList.add("picked"); g.setAttribute("aria-pressed", "true"); }
      chipsFor(frameKey, trackId).forEach(function (c) { c.classList.add("picked"); });
    }

    function pick(frameKey, trackId, origin) {
      if (busy) return;
      busy = true;
      clearError(errors);
      if (origin) origin.setAttribute("aria-busy", "true");
      api("POST", ctx.api + "/pick-player", {frame_key: frameKey, track_id: trackId}).then(function (job) {
        ctx.job = job;
        markPicked(frameKey, trackId);
        setStartReason(["confirm the target"]);
        ctx.openConfirm(job, origin);
      }, function (err) {
        showError(errors, err);
        errors.scrollIntoView({block: "nearest"});
      }).then(function () {
        busy = false;
        if (origin) origin.removeAttribute("aria-busy");
      });
    }
    ctx.pick = pick;

    document.querySelectorAll("g.track").forEach(function (g) {
      var frameKey = g.getAttribute("data-frame-key");
      var trackId = Number(g.getAttribute("data-track-id"));
      g.addEventListener("click", function () { pick(frameKey, trackId, g); });
      g.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " " || e.key === "Spacebar") {
          e.preventDefault();
          pick(frameKey, trackId, g);
        }
      });
      // hovering a box lights up its button under the frame, and the other way round
      g.addEventListener("mouseenter", function () { chipsFor(frameKey, trackId).forEach(function (c) { c.classList.add("hover"); }); });
      g.addEventListener("mouseleave", function () { chipsFor(frameKey, trackId).forEach(function (c) { c.classList.remove("hover"); }); });
    });
    document.querySelectorAll(".chip").forEach(function (c) {
      var g = boxFor(c.getAttribute("data-frame-key"), c.getAttribute("data-track-id"));
      if (!g) return;
      c.addEventListener("mouseenter", function () { g.classList.add("hover"); });
      c.addEventListener("mouseleave", function () { g.classList.remove("hover"); });
      c.addEventListener("focus", function () { g.classList.add("hover"); });
      c.addEventListener("blur", function () { g.classList.remove("hover"); });
    });
    document.querySelectorAll(".pick-form").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var button = e.submitter;
        if (!button || !button.value) return;
        pick(form.querySelector('input[name="frame_key"]').value, Number(button.value), button);
      });
    });
  }

  function setStartReason(missing) {
    var reason = document.getElementById("start-reason");
    var button = document.getElementById("start-btn");
    if (!reason || !button) return;
    if (missing.length) {
      reason.textContent = "To start: " + missing.join(" and ") + ".";
      reason.hidden = false;
      button.disabled = true;
    }
  }

  // ------------------------------------------------------------------ the confirm dialog

  function initConfirm(ctx) {
    var dialog = document.getElementById("confirm-dialog");
    var form = document.getElementById("confirm-form");
    if (!dialog || !form) return;
    var svg = document.getElementById("confirm-svg");
    var img = document.getElementById("confirm-img");
    var rect = document.getElementById("target-box");
    var expected = document.getElementById("expected-box");
    var meta = document.getElementById("confirm-meta");
    var errors = document.getElementById("confirm-error");
    var frameKeyInput = document.getElementById("confirm-frame-key");
    var role = document.getElementById("confirm-role");
    var confirmBtn = document.getElementById("confirm-btn");
    var inputs = {x: document.getElementById("box-x"), y: document.getElementById("box-y"),
                  w: document.getElementById("box-w"), h: document.getElementById("box-h")};
    var mismatch = document.getElementById("mismatch-dialog");
    var size = {w: Number(svg.getAttribute("data-width")) || 640, h: Number(svg.getAttribute("data-height")) || 360};
    var box = readInputs();
    var lastOrigin = null;
    var sending = false;

    function readInputs() {
      var b = {};
      for (var k in inputs) b[k] = parseFloat(inputs[k].value);
      return isNaN(b.x + b.y + b.w + b.h) ? null : b;
    }
    function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }
    function setRect(node, b) {
      if (!b) { node.setAttribute("visibility", "hidden"); return; }
      node.setAttribute("x", (b.x * size.w).toFixed(1));
      node.setAttribute("y", (b.y * size.h).toFixed(1));
      node.setAttribute("width", (b.w * size.w).toFixed(1));
      node.setAttribute("height", (b.h * size.h).toFixed(1));
      node.removeAttribute("visibility");
    }
    function setBox(b) {
      b = {x: clamp(b.x, 0, 1), y: clamp(b.y, 0, 1), w: b.w, h: b.h};
      b.w = clamp(b.w, 0.002, 1 - b.x);
      b.h = clamp(b.h, 0.002, 1 - b.y);
      box = b;
      for (var k in inputs) inputs[k].value = b[k].toFixed(4);
      setRect(rect, b);
    }
    for (var k in inputs) {
      inputs[k].addEventListener("input", function () {
        var b = readInputs();
        if (b) { box = b; setRect(rect, b); }
      });
    }

    /** The draft target, drawn on its own frame: the frame is found by frame_key, never by time. */
    ctx.openConfirm = function (job, origin) {
      lastOrigin = origin || null;
      var target = job.target;
      var ref = job.player_ref || {};
      var source = target && !target.confirmed ? target : (ref.frame_key ? {frame_key: ref.frame_key, bbox: ref.bbox} : null);
      if (!source) return;
      var frame = null;
      (job.preview_frames || []).forEach(function (f) { if (f.frame_key === source.frame_key) frame = f; });
      clearError(errors);
      if (!frame) {
        showError(document.getElementById("action-error"), {code: "FRAME_NOT_FOUND",
          message: "The target's frame_key is not one of this job's preview frames", frame_key: source.frame_key});
        return;
      }
      size = {w: frame.width, h: frame.height};
      svg.setAttribute("viewBox", "0 0 " + frame.width + " " + frame.height);
      img.src = frame.url;
      img.width = frame.width;
      img.height = frame.height;
      frameKeyInput.value = frame.frame_key;
      if (job.role && role) role.value = job.role;
      meta.textContent = "Frame at " + frame.time_sec + " s" + (ref.track_id !== undefined && ref.track_id !== null ? " · player " + ref.track_id : "");
      expected.setAttribute("visibility", "hidden");
      ctx.expectedBbox = null;
      setBox(source.bbox);
      openModal();
    };

    function openModal() {
      if (dialog.open) dialog.close();
      dialog.showModal();
      confirmBtn.focus();
    }
    function closeModal() {
      if (dialog.open) dialog.close();
    }
    dialog.addEventListener("close", function () {
      // Cancel, ×, or Escape: back to the box (or button) the coach picked with
      if (!mismatch.open && lastOrigin && document.body.contains(lastOrigin)) lastOrigin.focus();
    });
    document.getElementById("confirm-cancel").addEventListener("click", function (e) { e.preventDefault(); closeModal(); });
    document.getElementById("confirm-close").addEventListener("click", function (e) { e.preventDefault(); closeModal(); });

    // --- dragging: on the box moves it, anywhere else draws a new one
    var drag = null;
    function toFraction(e) {
      var r = svg.getBoundingClientRect();
      return {x: clamp((e.clientX - r.left) / r.width, 0, 1), y: clamp((e.clientY - r.top) / r.height, 0, 1)};
    }
    svg.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      var p = toFraction(e);
      if (e.target === rect && box) drag = {mode: "move", dx: p.x - box.x, dy: p.y - box.y};
      else drag = {mode: "draw", x0: p.x, y0: p.y, before: box};
      svg.setPointerCapture(e.pointerId);
    });
    svg.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var p = toFraction(e);
      if (drag.mode === "move") {
        setBox({x: clamp(p.x - drag.dx, 0, 1 - box.w), y: clamp(p.y - drag.dy, 0, 1 - box.h), w: box.w, h: box.h});
      } else {
        setBox({x: Math.min(drag.x0, p.x), y: Math.min(drag.y0, p.y),
                w: Math.max(0.002, Math.abs(p.x - drag.x0)), h: Math.max(0.002, Math.abs(p.y - drag.y0))});
      }
    });
    function endDrag(e) {
      if (!drag) return;
      if (drag.mode === "draw" && box && (box.w * size.w < 4 || box.h * size.h < 4) && drag.before) setBox(drag.before);
      drag = null;
      try { svg.releasePointerCapture(e.pointerId); } catch (err) { /* already released */ }
    }
    svg.addEventListener("pointerup", endDrag);
    svg.addEventListener("pointercancel", endDrag);
    // keyboard: arrows move the box, Shift+arrows resize it
    rect.addEventListener("keydown", function (e) {
      if (!box) return;
      var step = 0.01, b = {x: box.x, y: box.y, w: box.w, h: box.h};
      var moves = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step]};
      if (!moves[e.key]) return;
      e.preventDefault();
      if (e.shiftKey) { b.w = Math.max(0.005, b.w + moves[e.key][0]); b.h = Math.max(0.005, b.h + moves[e.key][1]); }
      else { b.x = clamp(b.x + moves[e.key][0], 0, 1 - b.w); b.y = clamp(b.y + moves[e.key][1], 0, 1 - b.h); }
      setBox(b);
    });

    // --- confirming
    function payload(force) {
      var body = {frame_key: frameKeyInput.value, bbox: box};
      if (role && role.value) body.role = role.value;
      if (force) body.force = true;
      return body;
    }
    function send(force) {
      if (sending) return;
      if (!box) {
        showError(errors, {code: "INVALID_PAYLOAD", message: "bbox: draw a box around your player first"});
        return;
      }
      sending = true;
      confirmBtn.disabled = true;
      clearError(errors);
      api("POST", ctx.api + "/target", payload(force)).then(function () {
        if (mismatch.open) mismatch.close();
        if (dialog.open) dialog.close();
        window.location.assign(window.location.pathname + "#start");
        window.location.reload();
      }, function (err) {
        sending = false;
        confirmBtn.disabled = false;
        if (err.code === "TARGET_MISMATCH") showMismatch(err);
        else {
          if (mismatch.open) mismatch.close();
          if (!dialog.open) dialog.showModal();
          showError(errors, err);
        }
      });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var force = e.submitter && e.submitter.name === "force";
      send(force);
    });

    // --- the mismatch dialog: what happened, retry, or force
    function showMismatch(err) {
      var d = err.details || {};
      var body = document.getElementById("mismatch-body");
      body.textContent = "";
      showError(body, err);
      document.getElementById("mismatch-iou").textContent = d.iou !== undefined ? Number(d.iou).toFixed(2) : "–";
      document.getElementById("mismatch-min").textContent = d.min_iou !== undefined ? Number(d.min_iou).toFixed(2) : "–";
      document.getElementById("mismatch-track").textContent = d.track_id !== undefined ? d.track_id : "";
      document.getElementById("mismatch-expected").textContent = d.expected_bbox ? boxWords(d.expected_bbox) : "not on this frame";
      ctx.expectedBbox = d.expected_bbox || null;
      setRect(expected, ctx.expectedBbox);
      document.getElementById("mismatch-retry").disabled = !ctx.expectedBbox;
      if (dialog.open) dialog.close();
      mismatch.showModal();
      document.getElementById("mismatch-retry").focus();
    }
    document.getElementById("mismatch-retry").addEventListener("click", function () {
      mismatch.close();
      if (ctx.expectedBbox) setBox(ctx.expectedBbox);  // back to the picked player's box, to adjust or confirm
      openModal();
    });
    document.getElementById("mismatch-force").addEventListener("click", function () { send(true); });
    mismatch.addEventListener("cancel", function () { window.setTimeout(openModal, 0); });

    // the page was rendered with a draft target waiting (a reload, or the no-JavaScript path): make it a modal
    if (dialog.hasAttribute("open")) {
      if (box) setRect(rect, box);
      var serverError = errors && !errors.hidden;
      dialog.close();
      dialog.showModal();
      if (!serverError) confirmBtn.focus();
    }
  }

  // ------------------------------------------------------------------ starting the analysis

  function initStart(ctx) {
    var form = document.getElementById("start-form");
    if (!form) return;
    var button = document.getElementById("start-btn");
    var errors = document.getElementById("start-error");
    var started = false;
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (started || button.disabled) return;  // a double click starts one analysis
      started = true;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.textContent = "Starting…";
      clearError(errors);
      api("POST", ctx.api + "/enqueue", {}).then(function () {
        window.location.reload();
      }, function (err) {
        if (err.code === "ALREADY_QUEUED") { window.location.reload(); return; }
        started = false;
        button.disabled = false;
        button.removeAttribute("aria-busy");
        button.textContent = "Start analysis";
        showError(errors, err);
      });
    });
  }

  function init() {
    initUpload();
    initJobsTable();
    initJob();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
