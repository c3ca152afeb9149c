// Optional: keeps "… ago" texts current between reloads. The pages read the
// same without it.
"use strict";
(function () {
  function ago(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s ago";
    if (s < 172800) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m ago";
    return Math.floor(s / 86400) + "d ago";
  }
  function tick() {
    var els = document.querySelectorAll("time[data-since]");
    for (var i = 0; i < els.length; i++) {
      var t = Date.parse(els[i].getAttribute("datetime"));
      if (!isNaN(t) && els[i].textContent.indexOf("ago") >= 0) els[i].textContent = ago(Date.now() - t);
    }
  }
  setInterval(tick, 1000);
})();
