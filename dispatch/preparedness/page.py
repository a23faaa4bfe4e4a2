"""The one-time link's page (`/ack/<token>`): what the step is, and two small forms —
coming (with minutes to arrive) or cannot (with an optional reason) — that post back to
the same address. No script and no account: it must open on any phone a link reaches.

The form is read here (it is not JSON, so the JSON edge checks do not apply): each field
is checked and refused with its name, in the page's language, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.response import Template

from dispatch.errors import DomainError, InvalidInput
from dispatch.preparedness.answering import LinkedStep
from dispatch.preparedness.schemas import OPEN_STATES, CalloutState
from dispatch.web.controllers import render
from dispatch.web.i18n import COOKIE, MESSAGES, language_of, messages_for

MINUTES = re.compile(r"^[0-9]{1,4}$")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class LinkAnswer:
    state: CalloutState
    eta_minutes: int | None = None
    reason: str | None = None


def messages_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    language = language_of(request.query_params.get("lang"), request.cookies.get(COOKIE))
    return messages_for(language)


def read_link_answer(form: Mapping[str, Any], messages: Mapping[str, str]) -> LinkAnswer:
    """The answer the page's form posted; 422 naming the field that is wrong."""
    answer = form.get("answer")
    if answer == "coming":
        raw = str(form.get("eta_minutes") or "").strip()
        if raw and (not MINUTES.match(raw) or int(raw) > 1440):
            raise InvalidInput(
                "eta_minutes must be 0-1440", field="eta_minutes", code="callout_link.eta"
            )
        return LinkAnswer(CalloutState.ACKNOWLEDGED, int(raw) if raw else None)
    if answer == "cannot":
        reason = str(form.get("reason") or "").strip()
        if len(reason) > 300 or CONTROL.search(reason):
            raise InvalidInput(
                "reason: at most 300 characters", field="reason", code="callout_link.reason"
            )
        default = " / ".join(MESSAGES["ack.link_declined"])
        return LinkAnswer(CalloutState.DECLINED, reason=reason or default)
    raise InvalidInput(
        "answer must be coming or cannot", field="answer", code="callout_link.answer"
    )


def _error_text(messages: Mapping[str, str], error: DomainError) -> str:
    """The refusal in the page's language, its state named rather than coded."""
    params = dict(error.params)
    if "state" in params:
        params["state"] = messages.get(f"ack.state.{params['state']}", params["state"])
    template = messages.get(f"error.{error.code}") or messages.get("error.bad_request", "")
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


def _done(messages: Mapping[str, str], step: LinkedStep) -> str:
    view = step.view
    if view.state is CalloutState.ACKNOWLEDGED:
        if view.eta_minutes is None:
            return messages["ack.done.acknowledged_no_eta"]
        return messages["ack.done.acknowledged"].format(eta=view.eta_minutes)
    return messages["ack.done.declined"]


def link_page(
    request: Request[Any, Any, Any],
    step: LinkedStep | None,
    *,
    error: DomainError | None = None,
    answered: bool = False,
) -> Template:
    """The page for a step (or for the refusal alone: a forged or expired link shows no
    step); never cached, never indexed."""
    messages = messages_of(request)
    due = None
    if step is not None:
        due = messages["ack.due"].format(time=step.view.due_at.strftime("%H:%M"))
    return render(
        request,
        "ack",
        status_code=error.status if error else 200,
        headers={"Cache-Control": "no-store"},
        step=step,
        open=step is not None and step.view.state in OPEN_STATES,
        due=due,
        done=_done(messages, step) if answered and step is not None else None,
        error=_error_text(messages, error) if error else None,
    )
