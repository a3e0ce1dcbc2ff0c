"""The library's public surface: the lazy Python API, the one merge engine every command runs, the
README's Python example, and the command line's shared options (help, version, choices)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import EXPOSURES, fails_cleanly, invoke, synthetic_bracket, write_bracket

import adnet_cli
from adnet_cli import choices
from adnet_cli.cli import options
from adnet_cli.formats.io import read_hdr
from adnet_cli.merge import engine

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)


def test_import_is_cheap_and_every_public_name_resolves():
    done = _python("import sys, adnet_cli; print('torch' in sys.modules, 'cv2' in sys.modules)")
    assert done.stdout.split() == ["False", "False"], done.stderr
    assert set(adnet_cli.__all__) == {"__version__", *adnet_cli._API}
    assert dir(adnet_cli) == sorted(adnet_cli.__all__)
    for name in adnet_cli.__all__:
        assert getattr(adnet_cli, name) is not None
    importlib.import_module("adnet_cli.formats.tonemap")  # binds the submodule on the package

    assert callable(adnet_cli.tonemap_image)
    with pytest.raises(AttributeError):
        _ = adnet_cli.no_such_name


@pytest.mark.parametrize("argv", [["--help"], ["merge", "--help"], ["eval", "--help"], ["--version"], ["-V"]])
def test_help_and_version_do_not_import_torch(argv):
    code = ("import sys\nfrom adnet_cli.cli import app\ntry:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('torch loaded' if 'torch' in sys.modules else 'no torch', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True)
    assert done.stderr.strip().endswith("no torch"), done.stderr
    if argv in (["--version"], ["-V"]):
        assert done.stdout.strip() == f"adnet {adnet_cli.__version__}"


@pytest.mark.parametrize("command", ["merge", "info", "tonemap", "train", "eval"])
def test_help_shows_no_bool_placeholder(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.output and "BOOLEAN" not in result.output


def test_merge_help_has_panels_and_examples():
    text = invoke("merge", "--help").output
    for panel in (options.INPUTS, options.WORKFLOW, options.OUTPUTS, options.NETWORK, "Examples"):
        assert panel in text
    assert "hf://owner/repo/file" in text and "…" not in text  # nothing cut at 80 columns


def test_choice_enums_are_the_library_tuples():
    from adnet_cli.evaluation.datasets import LAYOUT_TABLE, LAYOUTS
    from adnet_cli.formats.tonemap import OPERATORS
    from adnet_cli.merge.classical import METHODS
    from adnet_cli.merge.response import RESPONSES
    from adnet_cli.network.ops import BACKENDS
    from adnet_cli.network.preprocess import CONVENTIONS

    values = lambda enum: tuple(m.value for m in enum)  # noqa: E731
    assert values(options.ConventionChoice) == ("auto", *CONVENTIONS)
    assert values(options.PrecisionChoice) == choices.PRECISIONS
    assert values(options.BackendChoice) == ("auto", *BACKENDS)
    assert values(options.ResponseChoice) == RESPONSES
    assert values(options.MethodChoice) == ("adnet", *METHODS, "mertens") == choices.MERGE_METHODS
    assert values(options.LayoutChoice) == ("auto", *LAYOUTS) and tuple(LAYOUT_TABLE) == LAYOUTS
    assert values(options.OperatorChoice) == OPERATORS


def test_layout_gammas_come_from_the_conventions():
    from adnet_cli.evaluation.datasets import LAYOUT_TABLE
    from adnet_cli.network.preprocess import GAMMA

    assert {name: layout.gamma for name, layout in LAYOUT_TABLE.items()} == {
        "kalantari": GAMMA["kalantari"], "ntire": GAMMA["ntire"], "ntire-folders": GAMMA["ntire"]}


def test_engine_merge_files_is_what_the_command_writes(tmp_path, random_checkpoint):
    paths = write_bracket(tmp_path)
    out = tmp_path / "cli.exr"
    result = invoke("merge", *paths, "-e", EXPOSURES, "-o", out, "--float32", "--weights", random_checkpoint,
                    "--tile", 16, "--device", "cpu", "--precision", "float32")
    assert result.exit_code == 0, result.output
    ready = adnet_cli.create_engine(random_checkpoint, device="cpu", precision="float32", tile=16)
    merged = ready.merge_files(paths, adnet_cli.BracketRequest(exposures=[1 / 100, 1 / 25, 4 / 25]))
    np.testing.assert_array_equal(read_hdr(out), merged.hdr)
    assert merged.bracket.exposures == pytest.approx((0.01, 0.04, 0.16))


def test_engine_resolves_device_and_precision_once(random_checkpoint):
    ready = adnet_cli.create_engine(random_checkpoint, device="cpu", precision="bfloat16")
    assert ready.device == torch.device("cpu") and ready.options.dtype == torch.bfloat16
    assert "bfloat16" in ready.describe() and random_checkpoint.name in ready.describe()
    with pytest.raises(adnet_cli.AdnetError, match="CUDA"):
        adnet_cli.create_engine(random_checkpoint, device="cpu", precision="float16")


def test_merge_arrays_needs_three_exposures(random_checkpoint):
    frames, _ = synthetic_bracket(8, 8)
    ready = adnet_cli.create_engine(random_checkpoint, device="cpu")
    with pytest.raises(adnet_cli.AdnetError, match="3 frames"):
        ready.merge_arrays(frames, (1.0, 4.0))


def test_request_refuses_inconsistent_options():
    with pytest.raises(adnet_cli.AdnetError, match="--crop"):
        adnet_cli.BracketRequest(crop=True)
    with pytest.raises(adnet_cli.AdnetError, match="--ev"):
        adnet_cli.BracketRequest(ev="-2,0,2", scale=1 / 60)


def test_an_input_frame_is_never_an_output(tmp_path, random_checkpoint):
    """An LDR frame whose name ends in .hdr is still an input: -o naming it is refused, --overwrite or not."""
    paths = write_bracket(tmp_path)
    disguised = paths[1].with_name("f1.hdr")
    paths[1].rename(disguised)
    frames = [paths[0], disguised, paths[2]]
    before = disguised.read_bytes()
    for extra in ([], ["--overwrite"]):
        result = invoke("merge", *frames, "-e", EXPOSURES, "-o", disguised, *extra, "--weights", random_checkpoint)
        fails_cleanly(result, "refusing to overwrite input frame")
    link = tmp_path / "link.hdr"
    link.symlink_to(disguised)
    fails_cleanly(invoke("merge", *frames, "-e", EXPOSURES, "-o", link, "--overwrite", "--weights", random_checkpoint),
                  "refusing to overwrite input frame")
    assert disguised.read_bytes() == before


def test_network_options_scale_the_window_budget():
    cpu = torch.device("cpu")
    from adnet_cli.network.inference import default_tile, window_bytes_per_pixel

    full = window_bytes_per_pixel(cpu, torch.float32, 64)
    assert window_bytes_per_pixel(cpu, torch.bfloat16, 64) == full // 2
    assert window_bytes_per_pixel(cpu, torch.float32, 32) == full // 2
    assert default_tile(cpu, 32, torch.float32, 32) >= default_tile(cpu, 32, torch.float32, 64)


def test_readme_python_example_runs(tmp_path):
    """The README's "Python API" block, verbatim, from a folder holding the example bracket."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    done = _python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    hdr = read_hdr(tmp_path / "workshop.exr")
    assert hdr.shape == (256, 384, 3) and np.isfinite(hdr).all() and hdr.max() > 0.5
    assert (tmp_path / "workshop.png").stat().st_size > 0


def test_engine_module_prints_nothing():
    source = Path(engine.__file__).read_text()
    assert "print(" not in source and "typer" not in source and "rich" not in source


@pytest.mark.parametrize(("argv", "message"), [(["merge", "a.png"], "Missing option '--output'"),
                                               (["merge", "a.png", "-o", "x.exr", "--nope"], "No such option: --nope"),
                                               (["tonemap", "x.exr", "-o", "y.png", "--bits", "12"], "--bits")])
def test_usage_errors_are_one_line_with_status_2(argv, message):
    result = invoke(*argv)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "--help" in lines[0]


@pytest.mark.parametrize("command", [[], ["merge"], ["info"], ["tonemap"], ["train"], ["eval"]])
def test_dash_h_is_help_everywhere(command):
    short, long = invoke(*command, "-h"), invoke(*command, "--help")
    assert short.exit_code == 0 and "Usage:" in short.output and short.output == long.output


def test_the_package_is_typed_and_an_engine_prints_in_one_line(random_checkpoint):
    assert (Path(adnet_cli.__file__).parent / "py.typed").exists()
    text = repr(engine.create_engine(str(random_checkpoint), device="cpu"))
    assert text.startswith("Engine(weights='random.safetensors'") and "\n" not in text and "Conv2d" not in text
    assert "network='auto'" in text and "float32" in text


def test_a_missing_frame_is_refused_before_torch_or_opencv_load(tmp_path):
    code = ("import sys\nfrom adnet_cli.cli import app\ntry:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print('exit', e.code, file=sys.stderr)\n"
            "print('loaded', sorted(m for m in ('torch', 'cv2', 'OpenEXR') if m in sys.modules), file=sys.stderr)")
    missing = [str(tmp_path / f"missing{i}.png") for i in range(3)]
    done = subprocess.run([sys.executable, "-c", code, "merge", *missing, "-o", str(tmp_path / "x.exr")],
                          cwd=ROOT, capture_output=True, text=True)
    lines = done.stderr.strip().splitlines()
    assert lines[0] == f"error: {missing[0]}: no such file (or a link that leads nowhere)", done.stderr
    assert lines[-2:] == ["exit 1", "loaded []"] and not (tmp_path / "x.exr").exists()


def test_merge_arrays_takes_an_opencv_users_list_in_any_order(random_checkpoint):
    frames, times = synthetic_bracket(16, 24)
    ready = adnet_cli.create_engine(random_checkpoint, device="cpu")
    expected = ready.merge_arrays(frames, times)  # the (3, H, W, 3) RGB stack, short to long
    codes = [np.round(f * 255).astype(np.uint8) for f in frames]
    bgr_reversed = [np.ascontiguousarray(c[..., ::-1]) for c in codes[::-1]]
    heard: list[str] = []
    got = ready.merge_arrays(bgr_reversed, times[::-1], channel_order="bgr", noted=heard.append)
    np.testing.assert_allclose(got, ready.merge_arrays(np.stack(codes), times), rtol=0, atol=1e-6)
    np.testing.assert_allclose(got, expected, rtol=0, atol=0.05 * float(expected.max()))  # 8-bit codes
    assert heard == ["frames sorted by exposure: given in the order 2, 1, 0 of short to long"]
    with pytest.raises(adnet_cli.AdnetError, match="distinct"):
        ready.merge_arrays(codes, (1.0, 4.0, 4.0))
    with pytest.raises(adnet_cli.AdnetError, match="differ in size"):
        ready.merge_arrays([codes[0], codes[1], codes[2][:8]], times)
