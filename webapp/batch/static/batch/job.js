// Keeps the batch job page current: polls the job's API until it is done or failed,
// then reloads so the server renders the results. The page works without this script.
(function () {
  "use strict";
  var root = document.getElementById("batch-job");
  if (!root) return;
  var FINAL = { done: true, failed: true };
  if (FINAL[root.getAttribute("data-status")]) return;

  // The gateway allows each client address 10 requests a minute (deploy/istio/
  // envoyfilter-rate-limit.yaml); polling every 8 s leaves room for the visitor's other
  // requests, and a 429 waits for the gateway instead of adding to it.
  // The page may set another interval (data-poll-seconds, from BATCH_POLL_SECONDS).
  var POLL_SECONDS = 8;
  var rateLimit = window.SentimentRateLimit;
  if (!rateLimit || !window.fetch) return;

  var url = root.getAttribute("data-api-url");
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

  function show(job) {
    bar.max = Math.max(job.progress.total, 1);
    bar.value = job.progress.processed;
    bar.textContent = job.progress.processed + " / " + job.progress.total;
    text.textContent = job.progress.processed + " of " + job.progress.total + " reviews classified";
    status.textContent = LABELS[job.status] || job.status;
    showNotice(job.notice);
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
          if (FINAL[job.status]) {
            window.location.reload();
            return;
          }
          delay = interval;
          window.setTimeout(poll, delay);
        });
      })
      .catch(function () {
        // Back off while the server is unreachable; the page keeps its last state.
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
