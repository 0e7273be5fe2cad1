// Enhances the review page in place: the form and the feedback buttons call the REST API
// instead of reloading the page. Without this script the same forms post to the server.
(function () {
  "use strict";

  var form = document.getElementById("review-form");
  var template = document.getElementById("result-template");
  var rateLimit = window.SentimentRateLimit;
  if (!form || !template || !window.fetch || !("content" in template) || !rateLimit) {
    return;
  }
  var textarea = form.querySelector("textarea[name=review]");
  var fieldError = document.getElementById("review-error");
  var statusLine = document.getElementById("status");
  var resultArea = document.getElementById("result");
  var submitButton = form.querySelector("button[type=submit]");
  var counter = document.getElementById("review-count");
  var LABELS = { positive: "Positive", negative: "Negative" };
  var MODEL_DOWN =
    "The sentiment model is not available right now. Your review is still here; " +
    "please try again in a moment.";
  var OFFLINE = "The server could not be reached. Check your connection and try again.";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function postJSON(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(payload),
    }).then(function (response) {
      var answer = { status: response.status, data: null, response: response };
      return response.json().then(
        function (data) { answer.data = data; return answer; },
        function () { return answer; }
      );
    });
  }

  function errorMessage(data, fallback) {
    var message = data && data.error && data.error.message;
    return message ? message.replace(/^review:\s*/, "") : fallback;
  }

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("status-error", Boolean(isError));
  }

  function showFieldError(text) {
    fieldError.textContent = text;
    fieldError.hidden = !text;
    if (text) {
      textarea.setAttribute("aria-invalid", "true");
    } else {
      textarea.removeAttribute("aria-invalid");
    }
  }

  // The count the box's maxlength enforces (UTF-16 units, so an emoji counts as two).
  function showCount() {
    var max = parseInt(counter.getAttribute("data-max"), 10);
    var used = textarea.value.length;
    counter.textContent = used + " / " + max + " characters";
    counter.classList.toggle("char-count-full", used >= max);
  }
  if (counter) {
    textarea.addEventListener("input", showCount);
    showCount();
  }

  function fill(card, name, value) {
    card.querySelectorAll('[data-field="' + name + '"]').forEach(function (node) {
      node.textContent = value;
    });
  }

  function render(result) {
    var fragment = template.content.cloneNode(true);
    var card = fragment.querySelector("[data-result]");
    var percent = Math.round(result.confidence * 100) + "%";
    card.dataset.predictionId = result.prediction_id;
    card.dataset.sentiment = result.sentiment;
    fill(card, "emoji", result.emoji);
    fill(card, "sentiment_label", LABELS[result.sentiment] || result.sentiment);
    fill(card, "confidence_percent", percent);
    fill(card, "review", textarea.value);
    fill(card, "app_version", result.app_version);
    fill(card, "model_version", result.model_version);
    fill(card, "model_variant", result.model_variant);
    fill(card, "variant", result.variant || "");
    card.querySelectorAll('[data-if="variant"]').forEach(function (node) {
      node.hidden = !result.variant;
    });
    var meter = card.querySelector("[data-meter]");
    if (meter) {
      meter.setAttribute("width", Math.round(result.confidence * 100));
    }
    var feedbackForm = card.querySelector("form[data-feedback]");
    feedbackForm.action = "/predictions/" + result.prediction_id + "/feedback";
    resultArea.replaceChildren(fragment);
    // Same address as the no-script result page, so a reload shows this result again.
    history.replaceState(null, "", "/predictions/" + result.prediction_id);
    resultArea.querySelector("[data-focus]").focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!textarea.value.trim()) {
      showFieldError("Please write a review first.");
      textarea.focus();
      return;
    }
    showFieldError("");
    setStatus("Analyzing…");
    submitButton.disabled = true;
    form.setAttribute("aria-busy", "true");
    postJSON(form.dataset.api, { review: textarea.value })
      .then(function (answer) {
        if (answer.status === 200 && answer.data) {
          setStatus("");
          render(answer.data);
        } else if (answer.status === 503) {
          setStatus(MODEL_DOWN, true);
        } else if (answer.status === 429) {
          // The gateway's rate limit: nothing is wrong with the review itself.
          setStatus(rateLimit.message(rateLimit.waitSeconds(answer.response)), true);
        } else if (answer.status >= 400 && answer.status < 500) {
          setStatus("");
          showFieldError(errorMessage(answer.data, "This review cannot be analyzed."));
          textarea.focus();
        } else {
          setStatus(errorMessage(answer.data, "Something went wrong. Please try again."), true);
        }
      })
      .catch(function () {
        setStatus(OFFLINE, true);
      })
      .finally(function () {
        submitButton.disabled = false;
        form.removeAttribute("aria-busy");
      });
  });

  // The feedback form's own status line, beside its buttons.
  function setFeedbackStatus(feedbackForm, text) {
    var line = feedbackForm.querySelector("[data-feedback-status]");
    line.textContent = text;
    line.hidden = !text;
  }

  function feedbackDone(card, text) {
    var feedbackForm = card.querySelector("form[data-feedback]");
    var done = card.querySelector("[data-feedback-done]");
    feedbackForm.hidden = true;
    done.textContent = text;
    done.hidden = false;
    done.focus();
  }

  // Feedback forms come and go with each result: listen once, on the document.
  document.addEventListener("submit", function (event) {
    var feedbackForm = event.target.closest("form[data-feedback]");
    var card = feedbackForm && feedbackForm.closest("[data-result]");
    // Without the clicked button the answer is unknown: let the plain form post it.
    if (!card || !event.submitter || !card.dataset.predictionId) {
      return;
    }
    event.preventDefault();
    var correct = event.submitter.value === "true";
    var buttons = feedbackForm.querySelectorAll("button");
    buttons.forEach(function (button) { button.disabled = true; });
    setFeedbackStatus(feedbackForm, "");
    postJSON(form.dataset.feedbackApi, { prediction_id: card.dataset.predictionId, correct: correct })
      .then(function (answer) {
        if (answer.status === 429) {
          setFeedbackStatus(feedbackForm, rateLimit.message(rateLimit.waitSeconds(answer.response)));
          buttons.forEach(function (button) { button.disabled = false; });
        } else if (answer.status === 201) {
          feedbackDone(card, "Thanks! You said this result was " + (correct ? "correct" : "wrong") + ".");
        } else if (answer.status === 409) {
          feedbackDone(card, "Thanks! Feedback on this result was already recorded.");
        } else {
          setStatus(errorMessage(answer.data, "Your feedback could not be saved."), true);
          buttons.forEach(function (button) { button.disabled = false; });
        }
      })
      .catch(function () {
        setStatus(OFFLINE, true);
        buttons.forEach(function (button) { button.disabled = false; });
      });
  });
})();
