// Live logs: the stream replays the recent lines and then follows, so each
// (re)connection replaces what the pane shows. Lines are inserted as text,
// never as HTML: they are whatever the app printed.
"use strict";
(function () {
  var pane = document.getElementById("log");
  var status = document.getElementById("log-status");
  if (!pane || !window.EventSource) return;
  var keep = 2000; // lines kept in the page
  var fresh = false;

  function span(cls, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }

  var es = new EventSource(pane.getAttribute("data-stream"));
  es.onopen = function () {
    fresh = true;
    status.textContent = "live";
  };
  es.onerror = function () {
    status.textContent = es.readyState === EventSource.CLOSED ? "stopped (reload the page)" : "reconnecting…";
  };
  es.onmessage = function (e) {
    var m = JSON.parse(e.data);
    if (fresh) {
      pane.textContent = "";
      fresh = false;
    }
    var follow = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 8;
    var line = document.createElement("div");
    line.className = "line source-" + m.source;
    line.appendChild(span("time", m.time));
    line.appendChild(document.createTextNode(" "));
    line.appendChild(span("proc", m.source + "[" + m.proc + "]:"));
    line.appendChild(document.createTextNode(" "));
    line.appendChild(span("text", m.text));
    pane.appendChild(line);
    while (pane.childNodes.length > keep) pane.removeChild(pane.firstChild);
    if (follow) pane.scrollTop = pane.scrollHeight;
  };
})();
