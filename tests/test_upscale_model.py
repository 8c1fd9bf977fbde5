"""The enlargement model (curate/derive/upscale_model.py): its plain-Python tree evaluation, its input, and the
shipped model file agreeing with the threshold in rules/checks.toml."""

from __future__ import annotations

import json
import math
from importlib import resources

import pytest
from builders import measured_quality

from curate.derive import upscale_model
from curate.rules import load_settings

# Two trees of depth 1 over features 0 and 2: leaf rows are [_, _, _, _, value, 1, _].
SPEC = {
    "features": upscale_model.FEATURES,
    "baseline": -1.0,
    "trees": [
        [[0, 0.5, 1, 2, 0.0, 0, 1], [0, 0, 0, 0, 2.0, 1, 0], [0, 0, 0, 0, -3.0, 1, 0]],
        [[2, 10.0, 1, 2, 0.0, 0, 0], [0, 0, 0, 0, 0.25, 1, 0], [0, 0, 0, 0, 0.5, 1, 0]],
    ],
}


@pytest.mark.parametrize(
    "x, log_odds",
    [
        ([0.5, 0, 10.0], -1.0 + 2.0 + 0.25),  # thresholds are inclusive: x <= t goes left
        ([0.6, 0, 10.1], -1.0 - 3.0 + 0.5),
        ([math.nan, 0, math.nan], -1.0 + 2.0 + 0.5),  # missing: the side each node learned for it
    ],
)
def test_trees_are_walked_as_scikit_learn_does(x, log_odds):
    model = upscale_model.Model(SPEC)
    assert model.log_odds(x) == pytest.approx(log_odds)
    assert model.probability(x) == pytest.approx(1 / (1 + math.exp(-log_odds)))


def test_a_model_for_other_features_is_refused():
    with pytest.raises(ValueError, match="upscale-features"):
        upscale_model.Model({**SPEC, "features": "upscale-features/0"})


def test_input_needs_the_whole_spectrum():
    q = measured_quality()
    x = upscale_model.features(q)
    assert x is not None and len(x) == 91 and all(math.isfinite(v) for v in x)
    assert upscale_model.features({**q, "spectrum": q["spectrum"][:20]}) is None
    assert upscale_model.features({k: v for k, v in q.items() if k != "spectrum"}) is None
    holes = list(q["spectrum"])
    holes[8] = None  # a bin with no frequencies left (JPEG grid) is skipped, not a crash
    assert upscale_model.features({**q, "spectrum": holes}) is not None


@pytest.mark.parametrize("directions", [None, "text", {"0": 1}, [[1, 2]], [["a", "b", "c"]] * 6, []])
def test_a_damaged_directional_profile_is_missing_not_a_crash(directions):
    """A cache row from elsewhere: the model walks its trees' learned side for a missing value."""
    x = upscale_model.features({**measured_quality(), "spectrum_directions": directions})
    assert x is not None and len(x) == 91 and all(math.isnan(v) for v in x[67:][:3])


@pytest.mark.parametrize("periods", [None, "text", {"0": 1}, [[1, 2, 3]], [[1, 2], [3, 4]], [["a", 2, 3]] * 2, []])
def test_a_damaged_periodicity_is_missing_not_a_crash(periods):
    x = upscale_model.features({**measured_quality(), "resampling_periodicity": periods})
    assert x is not None and len(x) == 91 and all(math.isnan(v) for v in x[85:])


def test_periodicity_gives_each_peak_its_weaker_and_stronger_axis():
    x = upscale_model.periodicity_values([[2.0, 0.1, 0.3], [1.5, 0.4, 0.2]])
    assert x == [1.5, 2.0, 0.1, 0.4, 0.2, 0.3]


def test_enlarged_photos_score_high_and_untouched_ones_low():
    threshold = load_settings().cfg.upscaled.min_probability
    for name in ("motorcycle.jpg", "coffee.jpg"):
        assert upscale_model.probability(measured_quality("none", name)) < threshold, name
        assert upscale_model.probability(measured_quality("enlarged 3×", name)) >= threshold, name
    assert upscale_model.probability(measured_quality("shallow depth of field")) < threshold


def test_the_shipped_model_matches_its_card_and_the_rules():
    card = json.loads(resources.files("curate.data").joinpath(upscale_model.MODEL_FILE).read_text("utf-8"))
    assert card["features"] == upscale_model.FEATURES and len(card["trees"]) == card["recipe"]["params"]["max_iter"]
    # the threshold in force is the one bench/train_upscaled.py chose on tuning (a retrain must update both)
    assert load_settings().cfg.upscaled.min_probability == card["chosen_threshold"]
