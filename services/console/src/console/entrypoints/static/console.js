/* 英德售后 console: small enhancements over server-rendered pages (every page works without them). */
(function () {
  "use strict";

  // --- Chinese first, English behind the toggle: flipped in place, remembered in a cookie.
  var toggle = document.getElementById("lang-toggle");
  if (toggle) {
    toggle.addEventListener("click", function (ev) {
      ev.preventDefault();
      var root = document.documentElement;
      var en = !root.classList.contains("lang-en");
      root.classList.toggle("lang-en", en);
      root.lang = en ? "en" : "zh-CN";
      document.cookie = "yd_lang=" + (en ? "en" : "zh") + "; path=/; max-age=31536000; SameSite=Strict";
    });
  }

  // --- Sign-in (development only): pick a development role instead of pasting its key.
  document.querySelectorAll("[data-dev-key]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = document.getElementById("api_key");
      input.value = btn.getAttribute("data-dev-key");
      input.form.submit();
    });
  });

  // --- Forms that carry a file: a file over the limit is named at once, before minutes of uploading
  // (the services refuse it anyway, 413).
  document.querySelectorAll("form[data-max-bytes]").forEach(function (form) {
    var max = parseInt(form.getAttribute("data-max-bytes"), 10);
    var warning = form.querySelector(".too-big");
    var tooBig = function () {
      var big = false;
      form.querySelectorAll("input[type=file]").forEach(function (input) {
        Array.prototype.forEach.call(input.files || [], function (f) { if (f.size > max) { big = true; } });
      });
      if (warning) { warning.hidden = !big; }
      return big;
    };
    form.addEventListener("change", tooBig);
    form.addEventListener("submit", function (ev) { if (tooBig()) { ev.preventDefault(); } });
  });

  function encode(form) {
    return new URLSearchParams(new FormData(form)).toString();
  }

  // --- Hotline: the caller's open cases appear while the call goes on.
  var callForm = document.getElementById("call-form");
  if (callForm) {
    var panel = document.getElementById("open-cases");
    var last = "";
    var lookup = function () {
      var phone = callForm.elements.phone.value.trim(), serial = callForm.elements.serial_no.value.trim();
      var sig = phone + "|" + serial;
      if (sig === last || (!phone && !serial)) { return; }
      last = sig;
      panel.setAttribute("aria-busy", "true");
      fetch("/hotline/open-cases", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ phone: phone, serial_no: serial }).toString()
      }).then(function (r) { return r.text(); }).then(function (html) {
        panel.innerHTML = html; panel.removeAttribute("aria-busy");
      }).catch(function () { panel.removeAttribute("aria-busy"); });
    };
    ["phone", "serial_no"].forEach(function (name) {
      callForm.elements[name].addEventListener("change", lookup);
      callForm.elements[name].addEventListener("blur", lookup);
    });
  }

  // --- The case page: its events as they happen (server-sent events from the console's Kafka feed).
  var live = document.querySelector("[data-live-case]");
  if (live && window.EventSource) {
    var caseId = live.getAttribute("data-live-case");
    var connected = false;
    var timer = null;
    // Looked up each time: a refresh replaces the region the indicator lives in.
    var showConnected = function () {
      var indicator = document.getElementById("live-status");
      if (indicator) { indicator.classList.toggle("on", connected); }
    };

    var merge = function (html) {
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var fresh = holder.querySelector("#live-region");
      var current = document.getElementById("live-region");
      if (!fresh || !current) { return; }
      var list = fresh.querySelector("ol.timeline");
      if (list) {
        var known = {};
        list.querySelectorAll("li[data-event-id]").forEach(function (li) { known[li.getAttribute("data-event-id")] = 1; });
        // A line seen on Kafka that dispatch has not written yet stays until dispatch's own line replaces it.
        current.querySelectorAll("ol.timeline li.live").forEach(function (li) {
          if (!known[li.getAttribute("data-event-id")]) { list.appendChild(li); }
        });
      }
      current.replaceWith(fresh);
      showConnected();
    };
    var refresh = function () {
      fetch("/cases/" + caseId + "/live-region", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html) { merge(html); } })
        .catch(function () {});
    };
    var soon = function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () { refresh(); setTimeout(refresh, 2500); }, 700);
    };
    var appendLine = function (ev) {
      var list = document.querySelector("#live-region ol.timeline");
      if (!list || !ev.event_id || list.querySelector('li[data-event-id="' + ev.event_id + '"]')) { return; }
      var li = document.createElement("li");
      li.className = "live";
      li.setAttribute("data-event-id", ev.event_id);
      li.setAttribute("data-event-type", ev.event_type || "");
      var at = document.createElement("div");
      at.className = "at";
      var pz = document.createElement("span"); pz.className = "zh"; pz.textContent = ev.producer_zh || ev.producer || "";
      var pe = document.createElement("span"); pe.className = "en"; pe.lang = "en"; pe.textContent = ev.producer_en || ev.producer || "";
      at.textContent = (ev.at || ev.occurred_at) + " · ";
      at.appendChild(pz); at.appendChild(pe);
      var zh = document.createElement("span"); zh.className = "zh"; zh.textContent = ev.zh || ev.event_type;
      var en = document.createElement("span"); en.className = "en"; en.lang = "en"; en.textContent = ev.en || ev.event_type;
      li.appendChild(at); li.appendChild(zh); li.appendChild(en);
      list.appendChild(li);
    };

    var source = new EventSource("/cases/" + caseId + "/live");
    source.addEventListener("ready", function () {
      connected = true;
      showConnected();
      refresh(); // anything that happened between the page and the stream
    });
    source.addEventListener("case", function (msg) {
      var ev = {};
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      if (ev.zh) { appendLine(ev); }
      soon();
    });
    source.onerror = function () { connected = false; showConnected(); };
    window.addEventListener("pagehide", function () { source.close(); });
  }
})();
