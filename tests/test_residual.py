"""Residual outputs: the parameter-free bases, untrained residual models, and their checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import pad_for_network, randomise, synthetic_bracket
from typer.testing import CliRunner

from adnet_cli.cli import app
from adnet_cli.network.bases import BASES, base_image, bracket_context, merge_weights
from adnet_cli.network.inference import EDGE_CONTEXT, MergeOptions, bracket_maps, merge
from adnet_cli.network.model import ADNet, ADNetConfig
from adnet_cli.network.preprocess import CONVENTIONS, GAMMA, build_inputs, linear_power, to_linear
from adnet_cli.network.weights import load_weights, read_state_dict, save_weights

SMALL = dict(nf=16, growth=8, dense_layers=2, groups=2)


def hand_bracket() -> tuple[torch.Tensor, tuple[float, float, float], np.ndarray]:
    """A 1 x 4 bracket (exposures 1, 4, 16) whose four pixels each call for one frame of the merge:
    a mid-tone (the reference), a clipped highlight (the short frame), a deep shadow (the long frame),
    and a shadow where the long frame clipped too (the reference again). Returns the (1, 3, 3, 1, 4)
    LDR frames, the exposures and the linear radiance (1, 4, 3) each pixel's chosen frame gives, with
    1.0 = the reference's white, worked out by hand from the frames' codes."""
    g = 2.2
    short = [0.3, 0.6, 0.02, 0.1]
    ref = [0.5, 1.0, 0.03, 0.04]
    long = [0.9, 1.0, 0.2, 0.99]
    ldrs = torch.tensor([short, ref, long], dtype=torch.float32).view(1, 3, 1, 1, 4).expand(1, 3, 3, 1, 4)
    chosen = [ref[0] ** g, short[1] ** g * 4, long[2] ** g / 4, ref[3] ** g]
    return ldrs.contiguous(), (1.0, 4.0, 16.0), np.repeat(np.array(chosen, np.float32)[:, None], 3, 1)[None]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_merge_base_picks_the_frame_each_pixel_calls_for(convention):
    ldrs, exposures, expected = hand_bracket()
    inputs = build_inputs(ldrs, exposures, convention, 2.2)
    linear = to_linear(base_image(*inputs, "merge"), exposures, convention)
    if convention == "ntire":  # its inputs use the gamma given (2.2), its output decoding 2.24
        linear = linear ** (2.2 / GAMMA["ntire"])
    np.testing.assert_allclose(linear[0].permute(1, 2, 0).numpy(), expected, rtol=1e-5)


def test_merge_weights_are_smooth_and_sum_to_one():
    v = torch.linspace(0, 1, 201).view(1, 1, 1, 201).expand(1, 3, 1, 201)
    for long_level in (0.0, 0.8, 1.0):
        w = merge_weights(v, torch.full_like(v, long_level))
        total = sum(w)
        torch.testing.assert_close(total, torch.ones_like(total))
        assert all(bool((x >= 0).all()) for x in w)
        for x in w:  # continuous: no step larger than the smoothstep's steepest slope allows
            assert float(x.diff(dim=-1).abs().max()) <= 1.5 / 0.2 * 0.005 + 1e-6


@pytest.mark.parametrize("base", ["reference", "merge", "deghost", "optimal"])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_untrained_residual_model_is_exactly_its_base(base, convention):
    torch.manual_seed(0)
    model = ADNet(ADNetConfig(**SMALL, base=base), deform_backend="torch", convention=convention).eval()
    frames, times = synthetic_bracket(16, 24)
    ldrs = torch.from_numpy(frames).permute(0, 3, 1, 2).unsqueeze(0)
    inputs = build_inputs(ldrs, times, convention)
    context = bracket_context(ldrs, times, convention, maps=True)
    with torch.no_grad():
        out = model(*inputs, context)
    assert torch.equal(out, base_image(*inputs, base, linear_power(convention), context).clamp(min=0))


def test_none_base_keeps_the_original_init_and_the_base_is_really_added():
    # (that base none computes the original forward pass is tested against the original layout in
    # test_model.py); here: it keeps its initialisation, and the same tensors with a base differ by it
    torch.manual_seed(0)
    assert torch.equal(ADNet(ADNetConfig(**SMALL)).post_conv[2].bias, torch.full((3,), 0.1))
    plain = randomise(ADNet(ADNetConfig(**SMALL), deform_backend="torch"))
    inputs = build_inputs(torch.rand(1, 3, 3, 8, 8), (1.0, 4.0, 16.0), "kalantari")
    residual = ADNet(ADNetConfig(**SMALL, base="merge"), deform_backend="torch").eval()
    residual.load_state_dict(plain.state_dict())
    with torch.no_grad():
        features = plain(*inputs)  # ReLU(last conv), where it is positive: the correction itself
        out = residual(*inputs)
        base = base_image(*inputs, "merge")
    open_ = features > 0  # the correction, where the original's ReLU lets it through
    torch.testing.assert_close(out[open_], (features + base)[open_])  # a positive correction: added


def test_a_residual_correction_darkens_by_at_most_the_floor():
    from adnet_cli.network.model import RESIDUAL_FLOOR

    model = ADNet(ADNetConfig(**SMALL, base="merge"), deform_backend="torch").eval()
    torch.nn.init.constant_(model.post_conv[2].bias, -100.0)  # a correction far below any base
    inputs = build_inputs(torch.rand(1, 3, 3, 8, 8) * 0.9 + 0.05, (1.0, 4.0, 16.0), "kalantari")
    with torch.no_grad():
        out = model(*inputs)
    base = base_image(*inputs, "merge")
    assert bool((base > 0).all())
    torch.testing.assert_close(out, RESIDUAL_FLOOR * base)


@pytest.mark.parametrize("base", ["reference", "merge", "deghost", "optimal"])
def test_residual_models_tile_and_tta_like_the_whole_image(base):
    model = randomise(ADNet(ADNetConfig(**SMALL, base=base), deform_backend="torch"), seed=3)
    frames, times = synthetic_bracket(48, 64, seed=2)
    whole = merge(model, frames, times, "kalantari", torch.device("cpu"), MergeOptions(tile=0, dtype=torch.float32))
    tiled = merge(model, frames, times, "kalantari", torch.device("cpu"), MergeOptions(tile=16, tile_pad=32, dtype=torch.float32))
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-5 * float(whole.max()))
    tta = merge(model, frames, times, "kalantari", torch.device("cpu"), MergeOptions(tile=0, tta=True, dtype=torch.float32))
    hand = []
    e = EDGE_CONTEXT  # the engine mirrors this border around the image before the network
    ldrs = torch.from_numpy(pad_for_network(frames)).permute(0, 3, 1, 2).unsqueeze(0)
    context = bracket_context(ldrs, times, "kalantari", maps=bracket_maps(frames))  # the whole image's maps
    with torch.no_grad():
        for flip in (lambda x: x, lambda x: x.transpose(-2, -1), lambda x: x.flip(-2), lambda x: x.flip(-1)):
            hand.append(flip(model(*build_inputs(flip(ldrs), times, "kalantari"), context)))
    expected = to_linear(sum(hand) / 4, times, "kalantari")[0].permute(1, 2, 0).numpy()[e : e + 48, e : e + 64]
    np.testing.assert_allclose(tta, expected, rtol=1e-5, atol=1e-6)


def test_base_is_kept_in_the_checkpoint_and_read_back(tmp_path: Path):
    for base in BASES:
        model = randomise(ADNet(ADNetConfig(**SMALL, base=base), deform_backend="torch"))
        path = tmp_path / f"{base}.safetensors"
        save_weights(path, model, "kalantari")
        loaded = load_weights(str(path))
        assert loaded.model.config == model.config
        ldrs = torch.rand(1, 3, 3, 8, 8)
        x = build_inputs(ldrs, (1.0, 2.0, 4.0), "kalantari")
        context = bracket_context(ldrs, (1.0, 2.0, 4.0), "kalantari")
        with torch.no_grad():
            assert torch.equal(loaded.model(*x, context), model(*x, context))


def test_files_without_config_metadata_load_as_the_original_form(tmp_path: Path):
    from safetensors.torch import save_file

    model = randomise(ADNet(ADNetConfig(**SMALL, base="merge"), deform_backend="torch"))
    path = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    assert load_weights(str(path)).model.config == ADNetConfig(**SMALL)  # base none


def test_a_bad_config_in_the_metadata_is_named(tmp_path: Path):
    from safetensors.torch import save_file

    model = ADNet(ADNetConfig(**SMALL), deform_backend="torch")
    path = tmp_path / "odd.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={"adnet.config": '{"nf": 16, "growth": 8, "dense_layers": 2, "groups": 2, "base": "sky"}'})
    with pytest.raises(Exception, match="unknown base 'sky'"):
        load_weights(str(path))


def test_info_shows_the_base(tmp_path: Path):
    path = tmp_path / "merge.safetensors"
    save_weights(path, ADNet(ADNetConfig(**SMALL, base="merge"), deform_backend="torch"), "kalantari",
                 {"adnet.ratio_range": "2,64"})
    result = CliRunner().invoke(app, ["info", "--weights", str(path)])
    assert result.exit_code == 0, result.output
    assert "base: merge" in result.output and "trained exposure ratios: 2-64" in result.output


def test_init_from_a_plain_model_starts_a_residual_run_at_its_base(tmp_path: Path):
    from adnet_cli.training.train import TrainConfig, _build

    plain = randomise(ADNet(ADNetConfig(**SMALL), deform_backend="torch"))
    path = tmp_path / "plain.safetensors"
    save_weights(path, plain, "kalantari")
    config = TrainConfig(out_dir=tmp_path / "run", model=ADNetConfig(**SMALL, base="merge"), init=str(path))
    run = _build(config, torch.device("cpu"), None)
    state = run.model.state_dict()
    for name, value in plain.state_dict().items():
        if name.startswith("post_conv.2."):
            assert not value.eq(0).all() and state[name].eq(0).all()
        else:
            assert torch.equal(state[name], value), name
    same = TrainConfig(out_dir=tmp_path / "run", model=ADNetConfig(**SMALL), init=str(path))
    assert torch.equal(_build(same, torch.device("cpu"), None).model.state_dict()["post_conv.2.weight"],
                       plain.state_dict()["post_conv.2.weight"])
    tensors, _ = read_state_dict(path)
    assert len(tensors) == len(state)  # no parameter was added


def test_the_base_alone_scores_as_an_untrained_residual_model():
    from adnet_cli.training.validation import score, score_base, scoring_engine, validation_set

    samples = validation_set(3, 32)
    model = ADNet(ADNetConfig(**SMALL, base="merge"), deform_backend="torch")
    engine = scoring_engine(model, "kalantari", torch.device("cpu"))
    assert score(engine, samples) == score_base(samples, "merge", "kalantari")


def test_the_real_scene_set_is_fixed_static_then_moving_and_non_square(tmp_path: Path):
    from scenes import write_scene_folder

    from adnet_cli.training.validation import REAL_SHAPE, real_validation_set

    folder = write_scene_folder(tmp_path / "hdr", ["a.hdr", "b.hdr"])
    files = [folder / "a.hdr", folder / "b.hdr"]
    first, again = real_validation_set(files), real_validation_set(files)
    assert [s.static for s in first] == [True, False, True, False]
    assert all(s.ldrs.shape == (3, *REAL_SHAPE, 3) and s.camera is not None for s in first)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.ldrs, b.ldrs)
    assert first[0].scene.endswith("a.hdr") and first[2].scene.endswith("b.hdr")


@pytest.mark.parametrize(("short", "ref", "long", "expected"), [
    (0.8, 1.0, 1.0, "short"),  # clipped reference, a short frame brighter than its bound: the short frame
    (0.2, 1.0, 1.0, "reference"),  # a short frame darker than the clipped reference: moved, not used
    (0.01, 0.03, 0.2, "long"),  # a nearly black reference measures nothing: the long frame
    (0.5, 0.5, 0.9, "reference"),  # a mid-tone: the reference
])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_deghost_base_trusts_a_frame_only_where_it_agrees_with_the_reference(short, ref, long, expected, convention):
    ldrs = torch.tensor([short, ref, long]).view(1, 3, 1, 1, 1).expand(1, 3, 3, 8, 8).contiguous()
    inputs = build_inputs(ldrs, (1.0, 4.0, 16.0), convention, 2.2)
    chosen = {"short": inputs[0], "reference": inputs[1], "long": inputs[2]}[expected][:, 3:]
    power = 2.2 if convention == "ntire" else 1.0  # the gate compares linear light in both domains
    torch.testing.assert_close(base_image(*inputs, "deghost", power), chosen)


def test_deghost_base_drops_a_long_frame_that_moved():
    # reference LDR 0.2 (a shadow the long frame would help with, above the near-black guard); the
    # long frame agrees (16/4 = 4x brighter) or shows something 3x brighter than that (it moved)
    ref_v, ratio, g = 0.2, 4.0, 2.2
    agreeing = (ref_v**g * ratio) ** (1 / g)
    bases = {}
    for name, long_v in (("agrees", agreeing), ("moved", min(1.0, agreeing * 3 ** (1 / g)))):
        ldrs = torch.tensor([0.05, ref_v, long_v]).view(1, 3, 1, 1, 1).expand(1, 3, 3, 8, 8).contiguous()
        inputs = build_inputs(ldrs, (1.0, 4.0, 16.0), "kalantari", g)
        bases[name] = (base_image(*inputs, "deghost"), base_image(*inputs, "merge"), inputs[1][:, 3:])
    deghost, merged, reference = bases["agrees"]
    torch.testing.assert_close(deghost, merged)  # agreement: the plain merge
    deghost, merged, reference = bases["moved"]
    torch.testing.assert_close(deghost, reference)  # motion: the reference alone
    assert not torch.allclose(merged, reference)


def test_init_from_a_residual_model_into_the_original_form_is_refused(tmp_path: Path):
    from adnet_cli.errors import AdnetError
    from adnet_cli.training.train import TrainConfig, _build

    path = tmp_path / "residual.safetensors"
    save_weights(path, ADNet(ADNetConfig(**SMALL, base="deghost"), deform_backend="torch"), "kalantari")
    config = TrainConfig(out_dir=tmp_path / "run", model=ADNetConfig(**SMALL), init=str(path))
    with pytest.raises(AdnetError, match="residual model .base deghost"):
        _build(config, torch.device("cpu"), None)
