/* The right panel's behaviour: clicking a diff line attaches "path:line"
   to the next prompt. One listener on document (delegation), installed
   once however many times htmx swaps the panel in. */
(function () {
  if (window.foundryPanel) return;
  window.foundryPanel = true;
  document.addEventListener("click", function (event) {
    var line = event.target.closest && event.target.closest(".diff-line[data-attach]");
    if (!line) return;
    var ref = line.getAttribute("data-attach");
    // The composer's helper listens for this; the textarea is the fallback.
    document.dispatchEvent(new CustomEvent("foundry:attach", { detail: ref }));
    var box = document.querySelector("#composer textarea");
    if (box) {
      box.value = box.value ? box.value.replace(/\s*$/, " ") + ref : ref;
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }
    document.querySelectorAll(".diff-line.attached").forEach(function (el) {
      el.classList.remove("attached");
    });
    line.classList.add("attached");
  });
})();
