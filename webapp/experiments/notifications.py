"""Webhook notifications of what happens to an experiment: start, ramp step, rollback,
promotion and guard breach.

``notify`` records a ``Delivery`` in the caller's transaction and hands it to a Celery task
once that transaction commits, so no request waits for the receiver and a change that is
rolled back notifies nobody. The task POSTs the event (JSON, or Slack's ``{"text": ...}``)
and retries with exponential backoff on network errors, 429 and 5xx answers.

The URL comes from EXPERIMENT_WEBHOOK_URL and may hold a token in its path, query or
user info: logs and the delivery record only ever name its scheme and host.
"""

import logging
from http import HTTPStatus
from urllib.parse import urlsplit

import requests
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from webapp.celery import app
from webapp.experiments.models import Delivery, DeliveryStatus, Experiment

logger = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))


def public_target(url: str) -> str:
    """The part of a webhook URL that is safe to show: scheme and host (with port)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}"


def body(payload: dict, style: str) -> dict:
    """What is POSTed: the event itself, or Slack's incoming-webhook shape."""
    if style == "slack":
        return {"text": payload["text"]}
    return payload


def notify(
    experiment: Experiment,
    event: str,
    *,
    actor: str,
    old: dict,
    new: dict,
    text: str,
    note: str = "",
    numbers: dict | None = None,
) -> Delivery | None:
    """Queue the notification of ``event``; None when no webhook is configured."""
    url = settings.EXPERIMENT_WEBHOOK_URL
    if not url:
        return None
    payload = {
        "experiment": experiment.name,
        "event": event,
        "actor": actor,
        "time": timezone.now().isoformat(),
        "phase": experiment.phase,
        "old": old,
        "new": new,
        "text": text,
        "note": note,
    }
    if numbers is not None:
        payload["numbers"] = numbers
    delivery = Delivery.objects.create(
        experiment=experiment.name, event=event, payload=payload, target=public_target(url)
    )
    transaction.on_commit(lambda: _send(delivery.pk))
    return delivery


def _send(delivery_id: int) -> None:
    try:
        deliver_webhook.delay(delivery_id)
    except BrokerUnreachable:
        # The change itself is saved; the delivery stays "waiting" in the admin.
        logger.warning("webhook delivery %s: broker unreachable, not sent", delivery_id)


def attempt(delivery_id: int) -> float | None:
    """POST the delivery once and record how it went; the seconds to wait before trying
    again, or None when it is done (delivered, or given up)."""
    delivery = Delivery.objects.get(pk=delivery_id)
    if delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        return None  # a message delivered twice sends once
    url = settings.EXPERIMENT_WEBHOOK_URL
    delivery.attempts += 1
    code: int | None = None
    error = ""
    if not url:
        error = "EXPERIMENT_WEBHOOK_URL is no longer set."
    else:
        try:
            response = requests.post(
                url,
                json=body(delivery.payload, settings.EXPERIMENT_WEBHOOK_FORMAT),
                timeout=settings.EXPERIMENT_WEBHOOK_TIMEOUT,
                allow_redirects=False,
            )
            code = response.status_code
            if not HTTPStatus.OK <= code < HTTPStatus.MULTIPLE_CHOICES:
                error = f"HTTP {code}"
        except requests.RequestException as exc:
            # The exception's text quotes the URL's path and query: keep only its kind.
            error = f"{type(exc).__name__}: no answer from {delivery.target}"
    retry = bool(url) and (code is None or code in RETRIED_STATUSES)
    last = delivery.attempts >= settings.EXPERIMENT_WEBHOOK_ATTEMPTS
    delivery.response_code = code
    delivery.last_error = error
    if not error:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = timezone.now()
    elif retry and not last:
        delivery.status = DeliveryStatus.RETRYING
    else:
        delivery.status = DeliveryStatus.FAILED
    delivery.save()
    log = logger.info if not error else logger.warning
    log(
        "webhook %s of %s to %s: %s (attempt %d)",
        delivery.event,
        delivery.experiment,
        delivery.target,
        error or f"HTTP {code}",
        delivery.attempts,
    )
    if delivery.status != DeliveryStatus.RETRYING:
        return None
    return get_exponential_backoff_interval(
        factor=settings.EXPERIMENT_WEBHOOK_BACKOFF_FACTOR,
        retries=delivery.attempts,
        maximum=settings.EXPERIMENT_WEBHOOK_BACKOFF_MAX,
        full_jitter=False,
    )


@app.task(
    bind=True,
    name="experiments.deliver_webhook",
    max_retries=None,  # counted in the delivery against EXPERIMENT_WEBHOOK_ATTEMPTS
    soft_time_limit=60,
    time_limit=90,
)
def deliver_webhook(self, delivery_id: int) -> None:
    """Send one delivery, again later while the receiver is failing. Without a broker this
    runs in the request that made the change, so it tries once and never sleeps there."""
    countdown = attempt(delivery_id)
    if countdown is None:
        return
    if self.request.is_eager:
        Delivery.objects.filter(pk=delivery_id).update(status=DeliveryStatus.FAILED)
        return
    raise self.retry(countdown=max(countdown, 1))
