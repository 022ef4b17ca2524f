"""Every registered model survives the export format: saved as .keras (main output only) and
loaded back, it predicts exactly what it predicted before. Parametrized over the registry."""

from __future__ import annotations

import numpy as np
import pytest

from tuner.export import save_inference_model
from tuner.zoo import build_model, get_spec, list_models

# Fine-tuning for the pretrained backbones (what a fine-tuning search exports), the
# reference network for the rest.
CASES = [(n, "finetune") for n in list_models(pretrained=True)] + [(n, "scratch") for n in list_models() if n not in list_models(pretrained=True)]


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_saved_model_reloads_and_predicts_the_same(name, mode, tmp_path):
    import keras

    spec = get_spec(name)
    built = build_model(name, 3, mode=mode, input_size=spec.min_input_size, source_size=16, dense_units=8)
    x = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    before = built.model.predict(x, verbose=0)
    before = before[0] if isinstance(before, list) else before
    save_inference_model(built, tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    after = loaded.predict(x, verbose=0)
    assert not isinstance(after, list), "auxiliary heads are not exported"
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
