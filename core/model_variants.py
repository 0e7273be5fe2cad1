"""The models served side by side, as both services and the mesh name them.

v1 is the stable model (the lexical pipeline), v2 the canary (the embed pipeline). The web
app names the model it wants on every call in the ``x-model-variant`` header; the mesh routes
on it (deploy/istio: sentiment-model-vs) and each model service says which one it is.
"""

STABLE = "v1"
CANARY = "v2"
MODEL_VARIANTS = (STABLE, CANARY)
MODEL_VARIANT_HEADER = "x-model-variant"
