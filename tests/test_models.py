"""Models by YAML: named inputs with dtypes, Hugging Face models built from their
config class, through every backend and quantizer, for real (a two-layer BERT)."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import FAST, Sweep

# Small and quick, but real: BERT with 2 layers and hidden size 64, 16 tokens, batch 2.
TINY_BERT = ["model=bert_tiny", "batch_size=2", *FAST[1:]]
FP32 = ("eager", "compile", "ipex", "onnxruntime", "openvino")

# A Hugging Face model xeonsweep does not ship, added by writing this one file (its forward
# returns a ModelOutput of two tensors: last_hidden_state (batch, seq, hidden) and pooler_output).
ROBERTA = """\
name: roberta_tiny
factory:
  _target_: xeonsweep.hf.from_config
  model_class: transformers.RobertaModel     # config class: RobertaModel.config_class
  vocab_size: 500
  hidden_size: 32
  num_hidden_layers: 1
  num_attention_heads: 2
  intermediate_size: 64
  max_position_embeddings: 40
seq_len: 8
inputs:
  input_ids: {shape: [seq_len], dtype: int64, fill: randint, low: 3, high: 500}
  attention_mask: {shape: [seq_len], dtype: int64, fill: ones}
weights: null
"""


@pytest.fixture(scope="module")
def bert_rows(tmp_path_factory, cache_dir):
    """Every backend and quantizer on the tiny BERT, in three invocations; all their rows."""
    sweep = Sweep(tmp_path_factory.mktemp("bert"), cache_dir)
    tokens = sweep.tmp / "tokens.npy"
    np.save(tokens, np.random.default_rng(0).integers(0, 1000, (3, 12), dtype=np.int64))
    for args in (
        ["-m", f"backend={','.join(FP32)}", "quantization=none,pt2e"],
        ["-m", "backend=openvino", "quantization=nncf", "quantization.options.calibration_size=3",
         f"quantization.options.data=null,{tokens}"],
        ["backend=openvino", "backend.options.source=pytorch"],
    ):
        result = sweep(*args, *TINY_BERT)
        assert result.returncode == 0, result.stdout + result.stderr
    return sweep.rows()


def ok_rows(frame, **where):
    for column, value in where.items():
        frame = frame[frame[column] == value]
    assert len(frame) >= 1 and set(frame["status"]) == {"ok"}, frame[["backend", "quantization", "reason"]].to_string()
    return frame


@pytest.mark.slow
def test_tiny_bert_runs_on_every_backend_in_fp32_with_the_same_answers(bert_rows):
    for backend in FP32:
        row = ok_rows(bert_rows, backend=backend, quantization="none").iloc[0]
        assert row["sps"] > 0
        assert row["max_rel_error"] < 1e-3 and row["cosine_similarity"] > 0.9999, backend
        assert row["top1_agreement"] == 1.0  # logits are (batch, 2 labels)
        assert row["seq_len"] == 16 and pd.isna(row["input_shape"])
        assert row["input_spec"].startswith("input_ids:int64[16]:randint(0,1000) attention_mask:int64[16]:ones")
    ipex = ok_rows(bert_rows, backend="ipex", quantization="none").iloc[0]
    assert ipex["interpreter"].endswith(".venv-ipex/bin/python")


@pytest.mark.slow
def test_tiny_bert_quantized_int8_by_pt2e_and_nncf(bert_rows):
    pt2e = ok_rows(bert_rows, backend="compile", quantization="pt2e").iloc[0]
    nncf = ok_rows(bert_rows, quantization="nncf")
    assert pt2e["applied_precision"] == "int8"
    assert ({json.loads(d)["calibration_data"].rsplit("/", 1)[-1] for d in nncf["backend_details"]}
            == {"generated inputs", "tokens.npy"})
    for _, row in [(0, pt2e), *nncf.iterrows()]:
        # int8 changes the answer, a little
        assert 0 < row["max_rel_error"] < 0.5 and 0.9 < row["cosine_similarity"] < 1.0
        # Top-1 agreement was computed on the (batch, 2 labels) logits: a share of the batch's 2
        # argmaxes. Which share is not asserted: near-tied labels of a random tiny BERT may flip under int8.
        assert row["top1_agreement"] in (0.0, 0.5, 1.0), row["top1_agreement"]


@pytest.mark.slow
def test_a_combination_a_library_cannot_do_is_a_skipped_row_and_the_sweep_goes_on(bert_rows):
    skipped = bert_rows[bert_rows["status"] == "skipped"]
    assert sorted(skipped["backend"]) == sorted(b for b in FP32 if b != "compile")
    assert all(r.startswith("quantization=pt2e works with backend impl") and "Compile" in r for r in skipped["reason"])


@pytest.mark.slow
def test_int64_token_ids_reach_onnxruntime_and_openvino_as_int64(bert_rows):
    ort = json.loads(ok_rows(bert_rows, backend="onnxruntime", quantization="none").iloc[0]["backend_details"])
    assert ort["onnx_inputs"] == {"input_ids": "tensor(int64)", "attention_mask": "tensor(int64)",
                                  "token_type_ids": "tensor(int64)"}
    openvino = bert_rows[(bert_rows["backend"] == "openvino") & (bert_rows["quantization"] != "pt2e")]
    assert len(openvino) == 4 and set(openvino["status"]) == {"ok"}
    sources = set()
    for details in map(json.loads, openvino["backend_details"]):
        assert details["ov_inputs"] == {"input_ids": "i64", "attention_mask": "i64", "token_type_ids": "i64"}
        sources.add(details["ir"])
    assert len(sources) == 4  # onnx, pytorch, and the two int8 IRs


@pytest.mark.slow
def test_channels_last_on_a_bert(sweep):
    alone = sweep("model=bert_tiny", "channels_last=true", *FAST[1:])
    assert alone.returncode == 2 and len(alone.stderr.strip().splitlines()) == 1
    assert alone.stderr.startswith("xeonsweep: channels_last=true does not apply: model=bert_tiny has inputs that are "
                                   "not all 4-D images (input_ids:int64[16]"), alone.stderr
    swept = sweep("-m", "channels_last=false,true", *TINY_BERT)
    assert swept.returncode == 0, swept.stderr
    assert ("1 config(s) ran once with an equal one: they differ only in settings that do not apply"
            in " ".join(swept.stderr.split()))
    rows = sweep.rows()
    assert len(rows) == 1 and rows.iloc[0]["status"] == "ok"  # the two configs ran once
    assert pd.isna(rows.iloc[0]["channels_last"])
    assert list(json.loads(rows.iloc[0]["not_applicable"])) == ["channels_last"]


@pytest.mark.slow
def test_a_hugging_face_model_added_by_one_yaml_file(sweep, tmp_path):
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "roberta_tiny.yaml").write_text(ROBERTA)
    result = sweep("-m", "model=roberta_tiny", "model.seq_len=8,12", "backend=eager,onnxruntime", "batch_size=2",
                   *FAST[1:], f"hydra.searchpath=[file://{conf}]")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = sweep.rows()
    assert len(rows) == 4 and set(rows["status"]) == {"ok"}, rows["reason"].tolist()
    assert sorted(rows["seq_len"]) == [8, 8, 12, 12]
    assert rows["top1_agreement"].isna().all()  # hidden states, not (batch, classes)
    assert (rows["cosine_similarity"] > 0.9999).all() and (rows["max_rel_error"] < 1e-3).all()
    onnx = {json.loads(d)["onnx"] for d in rows[rows["backend"] == "onnxruntime"]["backend_details"]}
    assert len(onnx) == 2  # the export's cache key covers seq_len
