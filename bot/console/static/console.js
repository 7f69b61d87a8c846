// Progressive enhancement only: every page works without it.
// While a broadcast is sending, reload the page every 3 seconds so its counts move,
// unless the organizer is typing in a form.
(function () {
  "use strict";
  if (!document.body || !document.body.dataset.live) { return; }
  var typing = false;
  document.addEventListener("input", function () { typing = true; });
  window.setInterval(function () { if (!typing) { window.location.reload(); } }, 3000);
}());
