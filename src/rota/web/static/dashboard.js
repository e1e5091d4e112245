// Rota dashboard: the few live parts of the pages. No framework, no build step; loaded as a
// file because the pages' Content-Security-Policy forbids inline scripts.
"use strict";

(function () {
  // Forms that change something important ask first (cancel, retry).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  var root = document.getElementById("run");
  if (!root) {
    return;
  }
  var runId = root.getAttribute("data-run");
  var terminal = root.getAttribute("data-terminal") === "1";
  var log = document.getElementById("log");
  var lastSeq = 0;
  var source = null;
  var timer = null;

  function appendLine(line) {
    var row = document.createElement("span");
    row.className = "line level-" + String(line.level || "info").toLowerCase();
    // textContent: a log line is text, never HTML.
    row.textContent = (line.at || "") + " " + (line.level || "") + " " + (line.message || "") + "\n";
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }

  function openStream() {
    if (source || !log) {
      return;
    }
    var url = log.getAttribute("data-stream") + (lastSeq ? "?after=" + lastSeq : "");
    source = new EventSource(url);
    source.addEventListener("log", function (event) {
      var line = JSON.parse(event.data);
      if (line.seq && line.seq <= lastSeq) {
        return;
      }
      lastSeq = line.seq || Number(event.lastEventId) || lastSeq;
      appendLine(line);
    });
    source.addEventListener("end", function () {
      closeStream();
      log.setAttribute("data-ended", "1");
      if (!terminal) {
        // The run ended while we watched: show its final status, records and history.
        window.location.reload();
      }
    });
  }

  function closeStream() {
    if (source) {
      source.close();
      source = null;
    }
  }

  function poll() {
    fetch("/runs/" + runId + "/live", { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (state) {
        if (!state) {
          return;
        }
        var status = document.querySelector("#run-status .status");
        if (status) {
          status.textContent = state.status;
          status.className = "status status-" + state.status;
        }
        var bar = document.getElementById("progress");
        var text = document.getElementById("progress-text");
        var p = state.progress || {};
        if (bar && p.total) {
          bar.max = p.total;
          bar.value = p.done;
        }
        if (text) {
          text.textContent = p.done + (p.total ? " / " + p.total : "") + (p.message ? " · " + p.message : "");
        }
      })
      .catch(function () { /* the next poll tries again */ });
  }

  function start() {
    if (log && log.getAttribute("data-ended") !== "1") {
      openStream();
    }
    if (!terminal && !timer) {
      timer = window.setInterval(poll, 1000);
    }
  }

  function stop() {
    closeStream();
    if (timer) {
      window.clearInterval(timer);
      timer = null;
    }
  }

  // Live parts stop while the page is hidden and resume where they were.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      stop();
    } else {
      start();
    }
  });
  start();
})();
