/* The sandbox terminal: xterm.js bridged to ws/o/<org>/t/<task>/terminal/.
   The socket carries JSON text frames both ways: {"type":"input","data"},
   {"type":"resize","cols","rows"} from here; {"type":"output","data"},
   {"type":"ready"}, {"type":"exit","code"}, {"type":"error","message"}
   back. Its section is hx-preserve'd, so panel swaps never replace it;
   this file runs once per section (the flag on the element). */
(function () {
  var section = document.getElementById("panel-terminal");
  if (!section || section.dataset.ready) return;
  section.dataset.ready = "1";
  var state = document.getElementById("terminal-state");
  var button = document.getElementById("terminal-open");
  var screen = document.getElementById("terminal-screen");
  var term = null, fit = null, socket = null;

  function load(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }
  function libraries() {
    if (!document.querySelector("link[data-xterm]")) {
      var css = document.createElement("link");
      css.rel = "stylesheet"; css.href = section.dataset.xtermCss; css.dataset.xterm = "1";
      document.head.appendChild(css);
    }
    var chain = window.Terminal ? Promise.resolve() : load(section.dataset.xterm);
    return chain.then(function () {
      return window.FitAddon ? null : load(section.dataset.fit);
    });
  }
  function say(text) { state.textContent = text; }
  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }
  function resize() {
    if (!fit) return;
    try { fit.fit(); } catch (e) { return; }
    send({ type: "resize", cols: term.cols, rows: term.rows });
  }
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + section.dataset.socket);
    say("connecting…");
    socket.onmessage = function (event) {
      var m = JSON.parse(event.data);
      if (m.type === "output") term.write(m.data);
      else if (m.type === "ready") {
        say("connected"); button.hidden = true; resize(); term.focus();
      }
      else if (m.type === "exit") say("the shell exited (" + m.code + ")");
      else if (m.type === "error") { say(m.message); term.write("\r\n" + m.message + "\r\n"); }
    };
    socket.onclose = function (event) {
      var why = { 4401: "signed out", 4404: "not found" }[event.code];
      say(why ? "closed: " + why : "disconnected");
      button.hidden = false; button.disabled = false; button.textContent = "Reconnect";
    };
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    libraries().then(function () {
      if (!term) {
        term = new window.Terminal({ convertEol: false, fontSize: 13, scrollback: 5000 });
        fit = new window.FitAddon.FitAddon();
        term.loadAddon(fit);
        term.open(screen);
        term.onData(function (data) { send({ type: "input", data: data }); });
        window.addEventListener("resize", resize);
      }
      connect();
    }).catch(function (err) { say(err.message); button.disabled = false; });
  });
  section.foundryTerminal = { isOpen: function () { return !!socket && socket.readyState === 1; } };
})();
