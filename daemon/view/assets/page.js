"use strict";
(function () {
  var body = document.body;
  var status = document.getElementById("status");

  // The page's language: its words are attributes of <body>.
  function words(name, otherwise) {
    return body.getAttribute(name) || otherwise;
  }
  function say(text) {
    if (status) status.textContent = text;
  }

  // Copy buttons: the clipboard API where the page is a secure context (loopback,
  // HTTPS, a file), else the selection and execCommand.
  function copyText(pre, button) {
    var text = pre.textContent;
    var done = function () {
      button.textContent = words("data-copied", "Copied");
      setTimeout(function () { button.textContent = words("data-copy-label", "Copy"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(pre, done); });
    } else {
      fallback(pre, done);
    }
  }
  function fallback(pre, done) {
    var range = document.createRange();
    range.selectNodeContents(pre);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    try { if (document.execCommand("copy")) done(); } catch (e) { /* the text stays selected */ }
  }
  function wireCopy(root) {
    var buttons = root.querySelectorAll("button.copy[data-copy]");
    for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.copy[data-copy]") : null;
    if (!b) return;
    var pre = document.getElementById(b.getAttribute("data-copy"));
    if (pre) copyText(pre, b);
  });
  wireCopy(document);

  if (!body.hasAttribute("data-live")) return;

  // Live page: poll the main part; 304 while nothing changed.
  var main = document.getElementById("main");
  var every = Math.max(1, parseInt(body.getAttribute("data-refresh"), 10) || 5) * 1000;
  var etag = '"v' + main.getAttribute("data-version") + 'l"';
  var failures = 0;
  var openCount = function () {
    var c = main.querySelector("dl.counts");
    return c ? c.getAttribute("data-open") : null;
  };
  var lastOpen = openCount();

  function swap(html) {
    var opened = {}, closed = {};
    var ds = main.querySelectorAll("details[data-key]");
    for (var i = 0; i < ds.length; i++) (ds[i].open ? opened : closed)[ds[i].getAttribute("data-key")] = true;
    var focused = document.activeElement && main.contains(document.activeElement) ? document.activeElement.id : null;
    main.innerHTML = html;
    ds = main.querySelectorAll("details[data-key]");
    for (var j = 0; j < ds.length; j++) {
      var k = ds[j].getAttribute("data-key");
      if (opened[k]) ds[j].open = true;
      if (closed[k]) ds[j].open = false;
    }
    wireCopy(main);
    if (focused) {
      var f = document.getElementById(focused);
      if (f) f.focus();
    }
    var n = openCount();
    if (n !== lastOpen) {
      say(n === "1" ? words("data-open-one", "1 open incident")
                    : words("data-open-many", "{} open incidents").replace("{}", n));
    }
    lastOpen = n;
  }

  function poll() {
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch("live", { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 304) return null;
        if (!r.ok) throw new Error("HTTP " + r.status);
        etag = r.headers.get("ETag");
        return r.text();
      })
      .then(function (html) {
        if (failures) say(words("data-back", "Connection back."));
        failures = 0;
        if (html !== null) swap(html);
      })
      .catch(function () {
        failures++;
        say(words("data-lost", "Cannot reach tunneldoc; retrying."));
      })
      .then(function () { setTimeout(poll, failures ? Math.min(60000, every * (1 + failures)) : every); });
  }
  setTimeout(poll, every);
})();
