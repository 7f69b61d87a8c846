// Progressive enhancement only: every page works without it.
// While a broadcast is sending, load the list again every 3 seconds so its counts move,
// unless the organizer is typing in a form. A GET of the list, never a reload: reloading
// the page a form's POST produced would send the form again.
(function () {
  "use strict";
  if (!document.body || !document.body.dataset.live) { return; }
  var typing = false;
  document.addEventListener("input", function () { typing = true; });
  var url = document.body.dataset.live;
  if (url.charAt(0) !== "/") { return; }
  window.setInterval(function () { if (!typing) { window.location.assign(url); } }, 3000);
}());
