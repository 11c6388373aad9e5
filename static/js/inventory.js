// While a worker lists the project's volumes in K5, ask every 2 seconds whether the new list
// has arrived, and show it when it has (the page is reloaded with its filters). Without
// JavaScript the page still says "refreshing…" and shows the list it has.
(function () {
  "use strict";
  var status = document.getElementById("inventory-status");
  if (!status || !status.dataset.status) { return; }
  var tries = 0;
  function ask() {
    tries += 1;
    fetch(status.dataset.status, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (answer && !answer.refreshing) {
          // A new list, or K5's answer that it could not give one: the page shows either.
          window.location.reload();
          return;
        }
        if (tries < 150) { window.setTimeout(ask, 2000); }
      })
      .catch(function () { window.setTimeout(ask, 10000); });
  }
  window.setTimeout(ask, 2000);
})();
