// Keeps the batch job page current: polls the job's progress until it is done or failed,
// then reloads so the server renders the results. The page works without this script.
(function () {
  "use strict";
  var root = document.getElementById("batch-job");
  if (!root) return;
  var FINAL = { done: true, failed: true };
  if (FINAL[root.getAttribute("data-status")]) return;

  // Polls the job's progress endpoint, which is cheap and left out of the gateway's
  // per-client rate limit (deploy/istio/envoyfilter-rate-limit.yaml), so the bar can move
  // every second while the job moves, backing off to MAX_SECONDS while it does not (a job
  // waiting for the model service). The fastest interval is data-poll-seconds
  // (BATCH_POLL_SECONDS); a 429 still waits as long as the gateway asks.
  var POLL_SECONDS = 1;
  var MAX_SECONDS = 10;
  var BACKOFF = 1.5;
  var rateLimit = window.SentimentRateLimit;
  if (!rateLimit || !window.fetch) return;

  var url = root.getAttribute("data-progress-url");
  var interval = 1000 * (parseFloat(root.getAttribute("data-poll-seconds")) || POLL_SECONDS);
  var bar = document.getElementById("batch-progress");
  var text = document.getElementById("batch-progress-text");
  var status = document.getElementById("batch-status");
  var notice = document.getElementById("batch-notice");
  var LABELS = { queued: "Queued", running: "Running", done: "Done", failed: "Failed" };
  var delay = interval;

  function showNotice(message) {
    notice.textContent = message || "";
    notice.hidden = !message;
  }

  var last = bar.value;

  function show(job) {
    bar.max = Math.max(job.total, 1);
    bar.value = job.processed;
    bar.textContent = job.processed + " / " + job.total;
    text.textContent = job.processed + " of " + job.total + " reviews classified";
    status.textContent = LABELS[job.status] || job.status;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 429) {
          // At least one interval, so a "0" hint cannot turn into a burst of retries.
          var wait = Math.max(rateLimit.waitSeconds(response), interval / 1000);
          showNotice(rateLimit.message(wait));
          window.setTimeout(poll, 1000 * wait);
          return;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json().then(function (job) {
          show(job);
          showNotice(job.notice);
          if (FINAL[job.status]) {
            window.location.reload();
            return;
          }
          // Quick while the job moves, slower while it waits.
          delay = job.processed !== last ? interval : Math.min(delay * BACKOFF, 1000 * MAX_SECONDS);
          last = job.processed;
          window.setTimeout(poll, delay);
        });
      })
      .catch(function () {
        // Back off while the server is unreachable; the page keeps its last state.
        delay = Math.min(delay * 2, 1000 * MAX_SECONDS);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
