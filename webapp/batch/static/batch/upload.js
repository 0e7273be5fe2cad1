// Sends the batch upload form with fetch, so that a rate-limited upload (429 from the
// gateway) says when to try again beside the button instead of replacing the page with
// the gateway's answer. Any other answer is what the plain form would have shown: the job
// page it redirects to, or the error the server put on the form. Works without this script.
(function () {
  "use strict";
  var form = document.getElementById("batch-form");
  var rateLimit = window.SentimentRateLimit;
  if (!form || !rateLimit || !window.fetch || !window.FormData || !window.DOMParser) return;
  var button = form.querySelector("button[type=submit]");
  var fileInput = form.querySelector("input[type=file]");
  var status = document.getElementById("batch-upload-status");
  var OFFLINE = "The server could not be reached. Check your connection and try again.";
  var FAILED = "The file could not be uploaded. Please try again.";

  function showStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  // The error the server rendered into the form page it answered with, put where the
  // plain form shows it (above the form, described by the file field).
  function showServerError(html) {
    var error = new DOMParser().parseFromString(html, "text/html").getElementById("batch-error");
    if (!error) {
      showStatus(FAILED);
      return;
    }
    var node = document.importNode(error, true);
    var current = document.getElementById("batch-error");
    if (current) {
      current.replaceWith(node);
    } else {
      form.parentNode.insertBefore(node, form);
    }
    fileInput.setAttribute("aria-describedby", "batch-error");
    fileInput.setAttribute("aria-invalid", "true");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    showStatus("");
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 429) {
          showStatus(rateLimit.message(rateLimit.waitSeconds(response)));
          return;
        }
        if (response.ok && response.redirected) {
          // Read to the end first: leaving mid-body would abort the request.
          return response.text().then(function () {
            window.location.assign(response.url);
          });
        }
        return response.text().then(showServerError);
      })
      .catch(function () {
        showStatus(OFFLINE);
      })
      .finally(function () {
        button.disabled = false;
        form.removeAttribute("aria-busy");
      });
  });
})();
