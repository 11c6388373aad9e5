// The volumes page: "select all eligible" ticks every volume that can be imaged. The batch
// page: refreshes its live part every 5 seconds until every job has ended. Without
// JavaScript, volumes are ticked one by one and the batch page is reloaded by hand.
(function () {
  "use strict";
  var all = document.getElementById("select-eligible");
  if (all) {
    all.hidden = false;
    all.addEventListener("click", function () {
      var boxes = document.querySelectorAll("input[name=volume_ids][data-eligible]");
      var tick = Array.prototype.some.call(boxes, function (box) { return !box.checked; });
      boxes.forEach(function (box) { box.checked = tick; });
    });
  }
  var box = document.getElementById("batch-live");
  if (!box || !box.dataset.refresh) { return; }
  var announce = document.getElementById("batch-announce");
  function state() {
    var shown = box.querySelector(".batch-state");
    return shown ? shown.textContent.trim() : "";
  }
  var said = state();
  function refresh() {
    fetch(box.dataset.refresh, {credentials: "same-origin"})
      .then(function (response) {
        if (response.redirected) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }
        box.innerHTML = html;
        if (announce && state() !== said) { said = state(); announce.textContent = said; }
        var shown = box.querySelector(".batch-state");
        if (!(shown && shown.dataset.done)) { window.setTimeout(refresh, 5000); }
      })
      .catch(function () { window.setTimeout(refresh, 15000); });
  }
  window.setTimeout(refresh, 5000);
})();
