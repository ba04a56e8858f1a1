// The workbench page: one websocket for everything live (the organization,
// the open task, the open session's transcript from its last sequence
// number), the sidebar's live rows, the transcript growing in place, the
// composer. Reconnects with back-off (1 s doubling to 30 s) and catches up
// from the last sequence number it saw. Rendering stays on the server: the
// socket says what changed, the page fetches that piece's HTML.
(function () {
  "use strict";

  var state = { org: "", task: "", session: "", lastSeq: 0, renderedSeq: 0 };
  var root = function () { return document.getElementById("workbench"); };

  function csrf() { return root() ? root().dataset.csrf : ""; }

  function toast(message) {
    var box = document.getElementById("toast");
    if (!box) { return; }
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.hidden = true; }, 8000);
  }

  function post(url, data) {
    var body = new URLSearchParams(data || {});
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "HX-Request": "true" },
    }).then(function (response) {
      if (response.ok) { return response; }
      return response.text().then(function (text) {
        var readable = response.status >= 500 || /<html/i.test(text)
          ? "Something went wrong (" + response.status + "). Try again." : text;
        throw new Error(readable);
      });
    });
  }

  function followRedirect(response) {
    var target = response.headers.get("HX-Redirect");
    if (target) { location.assign(target); }
  }

  // -- the socket -------------------------------------------------------------------

  function socketPath() {
    var path = "/ws/o/" + encodeURIComponent(state.org) + "/live/";
    if (!state.task) { return path; }
    path += "?task=" + encodeURIComponent(state.task);
    if (state.session) {
      path += "&session=" + encodeURIComponent(state.session) + "&after=" + state.lastSeq;
    }
    return path;
  }

  function connect() {
    var delay = 1000;
    function open() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + socketPath());
      window.foundrySocket = socket;
      socket.onopen = function () {
        delay = 1000;
        document.body.classList.remove("offline");
        // Whatever changed while away: the header and the rows shown.
        if (open.reopened) { refreshTaskParts(); refreshRows(visibleRowIds()); }
        open.reopened = true;
      };
      socket.onmessage = function (message) { onEvent(JSON.parse(message.data)); };
      socket.onclose = function (close) {
        if (close.code === 4401) { location.assign("/signin/"); return; }
        if (close.code === 4404) { toast("This page is no longer available to you."); return; }
        document.body.classList.add("offline");
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    open();
  }

  function onEvent(event) {
    if (event.type === "event") {
      state.lastSeq = Math.max(state.lastSeq, event.seq);
      scheduleTranscript();
      // A turn's start and end change the header (status, timer, Stop).
      if (event.kind === "user_message" || event.kind === "turn_finished") { refreshTaskParts(); }
      return;
    }
    if (event.type === "caught_up") {
      state.lastSeq = Math.max(state.lastSeq, event.last_seq);
      scheduleTranscript();
      return;
    }
    var name = event.event || "";
    if (name === "tasks.changed") { refreshRows(event.task_ids || []); return; }
    if (name === "sync.progress") { showProgress(event); return; }
    if (name.indexOf("task.") === 0) { refreshTaskParts(); return; }
    if (name.indexOf("installation") === 0 || name.indexOf("sync") === 0) {
      reloadSidebar();
      refreshTaskParts();
    }
  }

  // -- the sidebar --------------------------------------------------------------------

  function visibleRowIds() {
    return Array.prototype.map.call(document.querySelectorAll(".task-row"), function (row) {
      return row.dataset.task;
    });
  }

  function refreshRows(ids) {
    if (!ids.length || !state.org) { return; }
    var url = "/o/" + encodeURIComponent(state.org) + "/sidebar/?ids=" +
      ids.slice(0, 100).map(encodeURIComponent).join(",");
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        var holder = document.createElement("ul");
        holder.innerHTML = html;
        Array.prototype.forEach.call(holder.querySelectorAll(".task-row"), function (fresh) {
          if (fresh.dataset.task === state.task) { fresh.classList.add("current"); }
          var old = document.getElementById(fresh.id);
          if (old) { old.replaceWith(fresh); return; }
          // A new task: at the top of its repository's list, if shown.
          var list = document.getElementById("repo-rows-" + fresh.dataset.repo);
          if (list && !document.getElementById("search-rows")) {
            var empty = list.querySelector(".empty");
            if (empty) { empty.remove(); }
            list.prepend(fresh);
          }
        });
      });
  }

  function reloadSidebar() {
    var form = document.getElementById("sidebar-search");
    if (form && window.htmx) { htmx.trigger(form, "submit"); }
  }

  function showProgress(event) {
    var box = document.getElementById("sync");
    if (!box) { return; }
    if (event.status && event.status !== "running") {
      box.hidden = true;
      reloadSidebar();
      refreshTaskParts();
      return;
    }
    box.hidden = false;
    if (event.label) { document.getElementById("sync-label").textContent = event.label; }
    var bar = document.getElementById("sync-progress");
    if (event.total) { bar.max = event.total; }
    if (event.processed !== undefined) { bar.value = event.processed; }
  }

  // -- the task's header, tabs and session state ----------------------------------------

  // The page's live parts ([data-live-part]: the task's header, tabs and
  // session state, the composer's pickers, the home's sync state), from
  // the server's current rendering of this URL.
  var partsPending = null;
  function refreshTaskParts() {
    if (partsPending) { return; }
    partsPending = setTimeout(function () {
      fetch(location.href, { credentials: "same-origin", headers: { "X-Requested-With": "live" } })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) {
          partsPending = null;
          if (!html) { return; }
          var holder = document.createElement("div");
          holder.innerHTML = html;
          Array.prototype.forEach.call(holder.querySelectorAll("[data-live-part]"), function (fresh) {
            var old = document.getElementById(fresh.id);
            var typing = old && old.contains(document.activeElement);
            if (old && !typing) { old.replaceWith(fresh); if (window.htmx) { htmx.process(fresh); } }
          });
          afterTaskParts();
          tickTimer();
        })
        .catch(function () { partsPending = null; });
    }, 100);
  }

  function afterTaskParts() {
    var header = document.getElementById("task-header");
    var stop = document.getElementById("stop-button");
    if (header && stop) { stop.hidden = header.dataset.sessionStatus !== "running"; }
  }

  function tickTimer() {
    var working = document.getElementById("working");
    if (!working) { return; }
    var seconds = Math.max(0, Math.round((Date.now() - Date.parse(working.dataset.since)) / 1000));
    var text = seconds < 60 ? seconds + "s" : Math.floor(seconds / 60) + "m " + (seconds % 60) + "s";
    working.querySelector(".timer").textContent = text;
  }

  // -- the transcript ---------------------------------------------------------------

  var transcriptBusy = false;
  var transcriptAgain = false;

  function transcriptUrl() {
    var view = document.getElementById("task-view");
    return view ? view.dataset.transcriptUrl : "";
  }

  function scheduleTranscript() {
    if (state.lastSeq <= state.renderedSeq) { return; }
    if (transcriptBusy) { transcriptAgain = true; return; }
    refreshTranscript();
  }

  // Re-read from the earliest item a later event may still change (the
  // last item, a running tool call, a pending permission request): the
  // server renders it whole again, and what follows.
  function refreshTranscript() {
    var list = document.getElementById("transcript-items");
    if (!list || !transcriptUrl()) { return; }
    var items = list.querySelectorAll(".item");
    var from = state.renderedSeq + 1;
    if (items.length) { from = Math.min(from, +items[items.length - 1].dataset.firstSeq); }
    Array.prototype.forEach.call(list.querySelectorAll(".item[data-open]"), function (item) {
      from = Math.min(from, +item.dataset.firstSeq);
    });
    transcriptBusy = true;
    transcriptAgain = false;
    fetch(transcriptUrl() + "?after=" + (from - 1), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("transcript " + r.status); } return r.text(); })
      .then(function (html) {
        var box = document.getElementById("transcript");
        var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var page = holder.querySelector(".transcript-page");
        Array.prototype.forEach.call(list.querySelectorAll(".item"), function (item) {
          if (+item.dataset.firstSeq >= from) { item.remove(); }
        });
        while (page.firstChild) { list.appendChild(page.firstChild); }
        if (window.htmx) { htmx.process(list); }
        var empty = document.getElementById("transcript-empty");
        if (empty && list.querySelector(".item")) { empty.remove(); }
        state.renderedSeq = Math.max(state.renderedSeq, +page.dataset.lastSeq);
        if (state.renderedSeq < state.lastSeq) { transcriptAgain = true; }
        if (atBottom) { box.scrollTop = box.scrollHeight; }
      })
      .catch(function (error) { toast("The transcript could not be read: " + error.message); })
      .then(function () {
        transcriptBusy = false;
        if (transcriptAgain) { scheduleTranscript(); }
      });
  }

  function watchHistory() {
    var sentinel = document.getElementById("history-more");
    var box = document.getElementById("transcript");
    if (!sentinel || !box || !window.IntersectionObserver) { return; }
    var loading = false;
    var observer = new IntersectionObserver(function (entries) {
      if (!entries[0].isIntersecting || loading) { return; }
      loading = true;
      var first = +box.dataset.firstSeq;
      fetch(transcriptUrl() + "?before=" + first, { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var page = holder.querySelector(".transcript-page");
          var list = document.getElementById("transcript-items");
          var height = box.scrollHeight;
          list.prepend.apply(list, Array.prototype.slice.call(page.childNodes));
          if (window.htmx) { htmx.process(list); }
          box.scrollTop += box.scrollHeight - height;  // keep what was on screen
          box.dataset.firstSeq = page.dataset.firstSeq;
          if (+page.dataset.firstSeq <= 1) { observer.disconnect(); sentinel.remove(); }
          loading = false;
        })
        .catch(function () { loading = false; });
    }, { root: box });
    observer.observe(sentinel);
  }

  // -- the composer ---------------------------------------------------------------------

  function draftKey() { return "foundry-draft:" + state.org + "/" + state.task + "/" + state.session; }

  function setUpComposer() {
    var form = document.getElementById("composer");
    if (!form) { return; }
    var text = document.getElementById("composer-text");
    text.value = localStorage.getItem(draftKey()) || "";
    text.addEventListener("input", function () { localStorage.setItem(draftKey(), text.value); });
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var message = text.value.trim();
      if (!message) { return; }
      var agent = document.getElementById("agent-picker").value;
      var model = document.getElementById("model-picker").value;
      var sessionAgent = document.getElementById("composer-pickers").dataset.sessionAgent;
      var sending;
      if (agent && sessionAgent && agent !== sessionAgent) {
        // Another agent: a new session with it, this message its first.
        sending = post(form.dataset.newSessionUrl, { agent: agent, model: model, prompt: message })
          .then(followRedirect);
      } else {
        sending = post(form.dataset.sendUrl, { text: message });
      }
      document.getElementById("send-button").disabled = true;
      sending.then(function () {
        text.value = "";
        localStorage.removeItem(draftKey());
      }).catch(function (error) { toast(error.message); })
        .then(function () { document.getElementById("send-button").disabled = false; });
    });
    var stop = document.getElementById("stop-button");
    stop.addEventListener("click", function () {
      stop.disabled = true;
      post(stop.dataset.url).catch(function (error) { toast(error.message); })
        .then(function () { stop.disabled = false; });
    });
  }

  // -- the page's chrome --------------------------------------------------------------

  function setUpChrome() {
    var toggle = document.getElementById("sidebar-toggle");
    if (toggle) {
      toggle.addEventListener("click", function () { document.body.classList.toggle("sidebar-open"); });
    }
    var switcher = document.getElementById("org-switcher");
    if (switcher) {
      switcher.addEventListener("change", function () {
        location.assign("/o/" + encodeURIComponent(switcher.value) + "/");
      });
    }
    document.addEventListener("keydown", function (event) {
      if ((event.metaKey || event.ctrlKey) && event.key.toLowerCase() === "k") {
        event.preventDefault();
        document.body.classList.add("sidebar-open");
        var search = document.getElementById("search");
        if (search) { search.focus(); search.select(); }
      }
    });
    document.addEventListener("click", function (event) {
      var rename = event.target.closest(".tab-rename");
      if (!rename) { return; }
      var title = window.prompt("Rename this session", rename.dataset.title || "");
      if (title && title.trim()) {
        post(rename.dataset.url, { title: title.trim() }).catch(function (e) { toast(e.message); });
      }
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      var xhr = event.detail.xhr;
      var panel = document.getElementById("right-panel");
      if (panel && event.detail.target === panel) {
        panel.innerHTML = '<p class="muted empty">This panel is not available (' + xhr.status + ").</p>";
        return;
      }
      var text = xhr.responseText || "";
      toast(xhr.status >= 500 || /<html/i.test(text)
        ? "Something went wrong (" + xhr.status + "). Try again." : text);
    });
    document.body.addEventListener("htmx:sendError", function () {
      toast("Foundry did not answer; check the connection and try again.");
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var modal = document.getElementById("modal");
      if (event.detail.target === modal && !modal.open) {
        modal.showModal();
        var filter = document.getElementById("repo-filter");
        if (filter) { filter.focus(); filter.addEventListener("input", filterRepos); }
      }
    });
  }

  function filterRepos(event) {
    var needle = event.target.value.toLowerCase();
    var picker = document.getElementById("repo-picker");
    var firstShown = null;
    Array.prototype.forEach.call(picker.options, function (option) {
      var shown = option.value.toLowerCase().indexOf(needle) !== -1;
      option.hidden = !shown;
      if (shown && !firstShown) { firstShown = option; }
    });
    if (firstShown && (picker.selectedOptions[0] || {}).hidden !== false) { firstShown.selected = true; }
  }

  window.foundryWorkbench = {
    start: function (options) {
      state.org = options.org;
      state.task = options.task || "";
      state.session = options.session || "";
      state.lastSeq = options.lastSeq || 0;
      state.renderedSeq = state.lastSeq;
      setUpChrome();
      setUpComposer();
      watchHistory();
      var box = document.getElementById("transcript");
      if (box) { box.scrollTop = box.scrollHeight; }
      setInterval(tickTimer, 1000);
      connect();
    },
    state: state,
  };
})();
