// Refreshes the part of the job page that changes while the job runs (its automation's steps
// included, which may go on after the job ended), every 5 seconds, and
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
  var announce = document.getElementById("job-announce");
  function heading() {
    var h1 = box.querySelector("h1");
    return h1 ? h1.textContent.replace(/\s+/g, " ").trim() : "";
  }
  var shown = heading();
  function refresh() {
    fetch(box.dataset.refresh, {credentials: "same-origin"})
      .then(function (response) {
        // Signed out meanwhile: the fragment's URL answered with the sign-in page. Load the
        // page itself, which goes to sign-in and back, rather than nest that page in this one.
        if (response.redirected) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }
        box.innerHTML = html;
        copyButtons(box);
        if (announce && heading() !== shown) {
          shown = heading();
          announce.textContent = shown;
        }
        // The server says when nothing will change any more by itself: the job has ended and
        // its automation has no step left for the engine (the heading's data-live).
        var h1 = box.querySelector("h1");
        var done = h1 && h1.dataset.live === "false";
        if (!done) { window.setTimeout(refresh, 5000); }
      })
      .catch(function () { window.setTimeout(refresh, 15000); });
  }
  window.setTimeout(refresh, 5000);
})();
