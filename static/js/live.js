// Refreshes the part of the job page that changes while the job runs, every 5 seconds, and
// makes the id copy buttons work. Without JavaScript the page still shows everything.
(function () {
  "use strict";
  var box = document.getElementById("job-live");
  function copyButtons(root) {
    root.querySelectorAll(".copy-button").forEach(function (button) {
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.dataset.copy).then(function () {
          button.textContent = "✔";
        });
      });
    });
  }
  copyButtons(document);
  if (!box || !box.dataset.refresh) { return; }
  function refresh() {
    fetch(box.dataset.refresh, {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        box.innerHTML = html;
        copyButtons(box);
        var state = box.querySelector(".state");
        var done = state && /state-(succeeded|failed|sync_failed|cancelled)/.test(state.className);
        if (!done) { window.setTimeout(refresh, 5000); }
      })
      .catch(function () { window.setTimeout(refresh, 15000); });
  }
  window.setTimeout(refresh, 5000);
})();
