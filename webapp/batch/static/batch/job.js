// Keeps the batch job page current: polls the job's API until it is done or failed,
// then reloads so the server renders the results. The page works without this script.
(function () {
  "use strict";
  var root = document.getElementById("batch-job");
  if (!root) return;
  var FINAL = { done: true, failed: true };
  if (FINAL[root.getAttribute("data-status")]) return;

  var url = root.getAttribute("data-api-url");
  var bar = document.getElementById("batch-progress");
  var text = document.getElementById("batch-progress-text");
  var status = document.getElementById("batch-status");
  var notice = document.getElementById("batch-notice");
  var LABELS = { queued: "Queued", running: "Running", done: "Done", failed: "Failed" };
  var delay = 1000;

  function show(job) {
    bar.max = Math.max(job.progress.total, 1);
    bar.value = job.progress.processed;
    bar.textContent = job.progress.processed + " / " + job.progress.total;
    text.textContent = job.progress.processed + " of " + job.progress.total + " reviews classified";
    status.textContent = LABELS[job.status] || job.status;
    notice.textContent = job.notice || "";
    notice.hidden = !job.notice;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (FINAL[job.status]) {
          window.location.reload();
          return;
        }
        delay = 1000;
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        // Back off while the server is unreachable; the page keeps its last state.
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
