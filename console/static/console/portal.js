// DSO Console portal: live sync progress, live sections while work is pending, confirmations, copy
// buttons. Every page works without this file.
(function () {
  "use strict";

  // Words the script shows come from the page (translated by the server): <body data-text-copied="...">.
  function text(name, fallback) {
    return (document.body && document.body.getAttribute("data-text-" + name)) || fallback;
  }

  var ACTIVE = ["queued", "running"];
  var POLL_MS = 1000;
  var LIVE_MS = 2000;
  var MAX_FAILURES = 5;
  var polling = {};

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function say(text, kind) {
    var box = document.getElementById("messages");
    if (!box) return;
    var line = document.createElement("p");
    line.className = "message message-" + (kind || "info");
    line.textContent = text;
    box.replaceChildren(line);
  }

  // Swap the element with the fragment's id in place, or add it on top of `insertInto` (a new run row).
  function place(element, insertInto) {
    localTimes(element);
    var existing = document.getElementById(element.id);
    if (existing) {
      existing.replaceWith(element);
    } else if (insertInto) {
      var container = document.querySelector(insertInto);
      if (!container) return element;
      var empty = container.querySelector("tr.empty");
      if (empty) empty.remove();
      container.prepend(element);
    }
    return element;
  }

  function getFragment(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } }).then(
      function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      }
    );
  }

  // Poll the run fragment every second until the run has finished, swapping it in place each time.
  // Polling is keyed by element id and always follows the poll URL the element carries *now*: on the
  // project page one cell per repository shows its latest run, and a newer run may take it over meanwhile.
  function watch(element) {
    var id = element.id;
    if (!element.getAttribute("data-poll-url") || polling[id]) return;
    polling[id] = true;
    var failures = 0;
    function stop() {
      delete polling[id];
    }
    function tick() {
      var current = document.getElementById(id);
      var url = current && current.getAttribute("data-poll-url");
      if (!url) return stop();
      getFragment(url)
        .then(function (html) {
          failures = 0;
          var shown = document.getElementById(id);
          if (shown && shown.getAttribute("data-poll-url") !== url) {
            // A newer run took this place while we fetched: never put the older one back over it.
            return setTimeout(tick, POLL_MS);
          }
          var fresh = place(fragment(html));
          if (ACTIVE.indexOf(fresh.getAttribute("data-run-status")) >= 0) setTimeout(tick, POLL_MS);
          else stop();
        })
        .catch(function () {
          failures += 1;
          if (failures < MAX_FAILURES) setTimeout(tick, POLL_MS * 2 * failures);
          else stop();
        });
    }
    setTimeout(tick, POLL_MS);
  }

  // Live sections: while #live-pending says work is queued or running (data-live-active), fetch its
  // data-live-url and swap every section of the answer in by id (pending work, warnings, provisioning,
  // recent syncs, bumps), so a bump or a sync shows its progress and its outcome without a reload.
  var live = { timer: null, failures: 0 };

  function liveSwap(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    // A copy: moving a section into the page removes it from the live `children` collection.
    Array.prototype.slice.call(template.content.children).forEach(function (fresh) {
      var shown = fresh.id && document.getElementById(fresh.id);
      if (!shown) return;
      // Never pull a form from under someone typing in it; the next answer brings it.
      if (shown.contains(document.activeElement) && document.activeElement !== document.body) return;
      shown.replaceWith(fresh);
      localTimes(fresh);
      fresh.querySelectorAll("[data-poll-url]").forEach(watch);
    });
  }

  function liveTick() {
    live.timer = null;
    var pending = document.getElementById("live-pending");
    var url = pending && pending.getAttribute("data-live-url");
    if (!url) return;
    getFragment(url)
      .then(function (html) {
        live.failures = 0;
        liveSwap(html);
        liveSchedule(false);
      })
      .catch(function () {
        live.failures += 1;
        if (live.failures < MAX_FAILURES) live.timer = setTimeout(liveTick, LIVE_MS * 2 * live.failures);
      });
  }

  // force: poll once even if nothing was pending when the page was drawn (the user just asked for work).
  function liveSchedule(force) {
    var pending = document.getElementById("live-pending");
    if (live.timer || !pending) return;
    if (force || pending.hasAttribute("data-live-active")) live.timer = setTimeout(liveTick, force ? POLL_MS : LIVE_MS);
  }

  function requestSync(form) {
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
    })
      .then(function (response) {
        return response.json().then(function (data) {
          return { ok: response.ok, data: data };
        });
      })
      .then(function (result) {
        if (!result.ok) {
          say(result.data.detail || text("sync-refused", "The sync could not be requested."), "error");
          return;
        }
        say(result.data.message + ".", "success");
        var variant = form.getAttribute("data-sync-variant") || "row";
        return getFragment(result.data.partial_url + "?variant=" + variant).then(function (html) {
          watch(place(fragment(html), form.getAttribute("data-sync-insert")));
          liveSchedule(true);
        });
      })
      .catch(function () {
        say(text("sync-failed", "The sync could not be requested; reload the page and try again."), "error");
      })
      .finally(function () {
        if (button) button.disabled = false;
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-sync-form") && window.fetch) {
      event.preventDefault();
      requestSync(form);
    }
  });

  // Copy buttons: any element with data-copy-target="<id>" copies that element's text.
  function enableCopyButtons(root) {
    root.querySelectorAll("[data-copy-target]").forEach(function (button) {
      button.hidden = !(navigator.clipboard && window.isSecureContext !== false);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(
      function () {
        button.textContent = text("copied", "Copied");
        button.setAttribute("data-copied", "");
      },
      function () {
        button.textContent = text("copy-failed", "Copy failed: select the text");
      }
    );
  });

  // Dates: the server titles each <time> with the exact time in the console's zone; the browser knows the
  // reader's own zone, so the title says the time there, in the page's language.
  function localTimes(root) {
    if (!window.Intl) return;
    var format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      dateStyle: "medium", timeStyle: "long"
    });
    root.querySelectorAll("time[datetime][title]").forEach(function (node) {
      var instant = new Date(node.getAttribute("datetime"));
      if (!isNaN(instant)) node.title = format.format(instant);
    });
  }

  // After a failed submit the server re-renders the form: the focus goes to the first invalid field (or the
  // form's error summary), so keyboard and screen reader users land where the problem is.
  function focusFirstError() {
    var invalid = document.querySelector("[aria-invalid=true], .form-errors[tabindex]");
    if (!invalid) return;
    var details = invalid.closest("details");
    if (details) details.open = true;
    invalid.focus();
  }

  // A link to a section inside a collapsed <details> (the CI section) opens it.
  function openTarget() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    var details = target && (target.closest("details") || target.querySelector("details"));
    if (details) details.open = true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll-url]").forEach(watch);
    enableCopyButtons(document);
    localTimes(document);
    openTarget();
    focusFirstError();
    liveSchedule(false);
  });
  window.addEventListener("hashchange", openTarget);
  // Again once loaded: a URL fragment naming a focusable element (the skip link's #content) takes the
  // focus when the page loads, after DOMContentLoaded.
  window.addEventListener("load", focusFirstError);
})();
