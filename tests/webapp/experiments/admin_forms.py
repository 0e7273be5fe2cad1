"""What the experiment admin's add form posts, for the tests that create experiments there."""

# The inlines (history, canary guard and its events) post their management forms even when
# nothing in them changes.
EMPTY_INLINES = {
    f"{prefix}-{field}": value
    for prefix in ("changes", "canary_guard", "canary_events")
    for field, value in [
        ("TOTAL_FORMS", "0"),
        ("INITIAL_FORMS", "0"),
        ("MIN_NUM_FORMS", "0"),
        ("MAX_NUM_FORMS", "1000"),
    ]
}


def add_form(**values: str) -> dict[str, str]:
    """A frontend experiment's add form, with ``values`` changed."""
    base = {
        "name": "checkout-v3",
        "description": "",
        "kind": "frontend",
        "weight": "0.1",
        "ramp_plan": "",
        "ramp_healthy_checks": "5",
        "salt": "abc123",
        "analysis_decision": "sequential",
        "_save": "Save",
    }
    return {**base, **EMPTY_INLINES, **values}
