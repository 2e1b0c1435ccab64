/*
 * The idle sign-out warning (templates/includes/idle_warning.html).
 *
 * The server ends a session SESSION_IDLE_MINUTES after its last request. This script counts that
 * time from the page load, on the browser's clock, without asking the server anything: a page
 * left open must not keep its session alive. Other tabs of the same site share the count through
 * localStorage, so a tab left alone does not sign out a person who works in another. htmx requests
 * move the end too, as the server sees them.
 *
 * A minute (data-warning-seconds) before the end it shows the warning, a role="alert" region; its
 * "Stay signed in" button sends one request, which moves the end on the server. When the time is
 * up it goes to the sign-in page, with the current page to come back to.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var warning = document.getElementById("idle-warning");
  var stay = document.getElementById("idle-warning-stay");
  if (!script || !warning || !stay) {
    return;
  }
  var sessionMs = Number(script.dataset.sessionSeconds) * 1000;
  var warningMs = Number(script.dataset.warningSeconds) * 1000;
  var storageKey = "tracker-session-ends-at";
  var endsAt = 0;
  var timer = null;

  function sharedEnd() {
    try {
      return Number(window.localStorage.getItem(storageKey)) || 0;
    } catch (error) {
      return 0;
    }
  }

  function restart(newEnd) {
    endsAt = Math.max(newEnd, sharedEnd());
    try {
      window.localStorage.setItem(storageKey, String(endsAt));
    } catch (error) {
      // Private windows may refuse storage; this tab still counts on its own.
    }
    hide();
    schedule();
  }

  function schedule() {
    window.clearTimeout(timer);
    var left = endsAt - Date.now();
    if (left <= 0) {
      signedOut();
    } else if (left <= warningMs) {
      show();
      timer = window.setTimeout(tick, left);
    } else {
      timer = window.setTimeout(tick, left - warningMs);
    }
  }

  function tick() {
    // Another tab may have moved the end while this one waited.
    endsAt = Math.max(endsAt, sharedEnd());
    schedule();
  }

  // The alert is announced when it appears; focus stays where it was, since the person may be typing.
  function show() {
    warning.hidden = false;
  }

  function hide() {
    warning.hidden = true;
  }

  function signedOut() {
    var here = window.location.pathname + window.location.search;
    window.location.assign(script.dataset.loginUrl + "?next=" + encodeURIComponent(here));
  }

  stay.addEventListener("click", function () {
    var sentAt = Date.now();
    stay.disabled = true;
    window
      .fetch(script.dataset.keepaliveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": script.dataset.csrfToken, Accept: "application/json" },
      })
      .then(function (response) {
        if (!response.ok) {
          signedOut();
          return null;
        }
        return response.json();
      })
      .then(function (answer) {
        if (answer) {
          restart(sentAt + answer.seconds * 1000);
        }
      })
      .catch(function () {
        // The server could not be reached: the session may still end; keep counting.
      })
      .then(function () {
        stay.disabled = false;
      });
  });

  document.body.addEventListener("htmx:afterRequest", function () {
    restart(Date.now() + sessionMs);
  });
  window.addEventListener("storage", function (event) {
    if (event.key === storageKey) {
      tick();
    }
  });

  restart(Date.now() + sessionMs);
})();
