// One websocket per page; events re-render the pieces they concern.
// Reconnects with back-off (1 s doubling to 30 s).
(function () {
  "use strict";

  function connect(path, onEvent) {
    var delay = 1000;
    function open() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + path);
      socket.onopen = function () { delay = 1000; };
      socket.onmessage = function (message) { onEvent(JSON.parse(message.data)); };
      socket.onclose = function (close) {
        if (close.code === 4401 || close.code === 4404) { return; } // not allowed: stop
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    open();
  }

  // Swap <main> for the server's current rendering (one request, no loop:
  // only events trigger it, and a burst is coalesced).
  var pending = null;
  function refreshMain() {
    if (pending) { return; }
    pending = setTimeout(function () {
      fetch(location.href, { headers: { "X-Requested-With": "live" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          pending = null;
          if (!html) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector("main");
          if (fresh) { document.querySelector("main").replaceWith(fresh); }
        })
        .catch(function () { pending = null; });
    }, 150);
  }

  function showProgress(event) {
    var box = document.getElementById("sync");
    if (!box) { return; }
    if (event.status && event.status !== "running") { refreshMain(); return; }
    box.hidden = false;
    if (event.label) { document.getElementById("sync-label").textContent = event.label; }
    var bar = document.getElementById("sync-progress");
    if (event.total) { bar.max = event.total; }
    if (event.processed !== undefined) { bar.value = event.processed; }
  }

  window.foundryLive = {
    connect: connect,
    organization: function (orgId) {
      connect("/ws/o/" + encodeURIComponent(orgId) + "/", function (event) {
        if (event.event === "sync.progress") { showProgress(event); }
        else { refreshMain(); }
      });
    },
  };
})();
