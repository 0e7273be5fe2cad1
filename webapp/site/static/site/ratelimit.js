// What the pages say when the gateway (or the admin sign-in throttle) answers 429: one
// wording and one reading of its headers for every script that calls the API.
(function () {
  "use strict";
  // Without a hint, wait for the gateway's bucket to refill (once a minute).
  var DEFAULT_SECONDS = 60;

  // Seconds until the next request may pass: Retry-After (seconds or an HTTP date), else
  // the x-ratelimit-reset of the gateway's rate limit headers.
  function waitSeconds(response) {
    var retryAfter = response.headers.get("Retry-After");
    if (retryAfter) {
      var seconds = /^\d+$/.test(retryAfter.trim())
        ? Number(retryAfter)
        : (Date.parse(retryAfter) - Date.now()) / 1000;
      if (seconds >= 0) return seconds;
    }
    var reset = parseFloat(response.headers.get("x-ratelimit-reset"));
    return reset >= 0 ? reset : DEFAULT_SECONDS;
  }

  function message(seconds) {
    return "Too many requests, try again in " + Math.max(1, Math.ceil(seconds)) + " s.";
  }

  window.SentimentRateLimit = { waitSeconds: waitSeconds, message: message };
})();
