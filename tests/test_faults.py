"""Cases of the fault matrix: inputs that are not what they seem (pipes, names that are not UTF-8,
files cut short, checkpoints that contain themselves), each refused in one line or handled, with
nothing lost."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import EXPOSURES, as_network, fails_cleanly, invoke, write_bracket

from adnet_cli.formats.io import read_hdr, write_hdr_image

ROOT = Path(__file__).resolve().parent.parent


def _adnet(*args: str | bytes, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """The command in a subprocess (arguments may be bytes: file names that are not UTF-8)."""
    code = "import sys; from adnet_cli.cli import main; sys.argv[0] = 'adnet'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_input_is_refused_not_read_forever(tmp_path, random_checkpoint):
    frames = write_bracket(tmp_path)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    done = _adnet("merge", str(frames[0]), str(fifo), str(frames[2]), "-e", EXPOSURES, "-o", "out.exr",
                  "--weights", str(random_checkpoint), cwd=tmp_path, timeout=60)
    assert done.returncode == 1 and b"not a regular file" in done.stderr, done.stderr
    fifo_hdr = tmp_path / "pipe.exr"
    os.mkfifo(fifo_hdr)
    done = _adnet("tonemap", str(fifo_hdr), "-o", "p.png", cwd=tmp_path, timeout=60)
    assert done.returncode == 1 and b"not a regular file" in done.stderr, done.stderr


def test_file_names_that_are_not_utf8_merge_and_tonemap(tmp_path, random_checkpoint):
    """Legal POSIX names whose bytes are not UTF-8 (OpenCV's own path handling crashed on them)."""
    frames = write_bracket(tmp_path)
    odd = []
    for i, frame in enumerate(frames):
        target = os.path.join(os.fsencode(tmp_path), b"\xff" + str(i).encode() + b".png")
        os.rename(frame, target)
        odd.append(target)
    done = _adnet("merge", *odd, "-e", EXPOSURES, "-o", b"\xfeout.exr", "--weights", str(random_checkpoint),
                  cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = os.path.join(os.fsencode(tmp_path), b"\xfeout.exr")
    assert read_hdr(Path(os.fsdecode(out))).shape == (24, 36, 3)
    done = _adnet("tonemap", out, "-o", b"\xfdpreview.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert os.path.exists(os.path.join(os.fsencode(tmp_path), b"\xfdpreview.png"))


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_truncated_frame_is_refused(tmp_path, random_checkpoint, suffix):
    import cv2

    frames = write_bracket(tmp_path)
    cut = frames[1].with_suffix(suffix)
    ok, data = cv2.imencode(suffix, cv2.imread(str(frames[1])))
    assert ok
    cut.write_bytes(data.tobytes()[: len(data) * 2 // 3])
    frames[1].unlink()
    out = tmp_path / "out.exr"
    result = invoke("merge", frames[0], cut, frames[2], "-e", EXPOSURES, "-o", out, "--weights", random_checkpoint)
    fails_cleanly(result, "truncated")
    assert not out.exists()


def test_complete_files_with_trailing_data_are_accepted(tmp_path):
    """A JPEG with bytes after its end marker (some cameras append data) is not taken for truncated."""
    import cv2

    from adnet_cli.formats.io import read_ldr

    ok, data = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    path = tmp_path / "trailer.jpg"
    path.write_bytes(data.tobytes() + b"\x00" * 16 + b"TRAILER")
    assert read_ldr(path).pixels.shape == (8, 8, 3)


def test_tonemap_refuses_its_own_input_as_output(tmp_path):
    src = tmp_path / "scene.exr"
    write_hdr_image(src, np.full((4, 4, 3), 0.5, np.float32))
    before = src.read_bytes()
    from typer.testing import CliRunner

    from adnet_cli.cli import app

    result = CliRunner().invoke(app, ["tonemap", str(src), "-o", str(src), "--overwrite"])
    fails_cleanly(result, "refusing to overwrite input")
    assert src.read_bytes() == before


# ----------------------------------------------------------------------------- non-finite and useless results


def test_weights_holding_nan_are_refused_when_loaded(tmp_path, random_model):
    import torch

    from adnet_cli.errors import WeightsError
    from adnet_cli.network.weights import load_weights, save_weights

    broken, model = tmp_path / "nan.safetensors", copy.deepcopy(random_model)  # the fixture is shared
    with torch.no_grad():
        next(p for p in model.parameters()).fill_(float("nan"))
    save_weights(broken, model, "kalantari")
    with pytest.raises(WeightsError, match="NaN or inf"):
        load_weights(str(broken))


def test_a_non_finite_merge_is_never_written(tmp_path, random_checkpoint, monkeypatch):
    from adnet_cli.merge import engine

    nan_merge = as_network(lambda model, frames, *a: np.full(frames.shape[1:], np.nan, np.float32))
    monkeypatch.setattr(engine, "run_network", nan_merge)
    frames, out = write_bracket(tmp_path), tmp_path / "out.exr"
    result = invoke("merge", *frames, "-e", EXPOSURES, "-o", out, "--weights", random_checkpoint, "-q")
    fails_cleanly(result, "non-finite")
    assert not out.exists()


def test_a_scale_that_underflows_float32_is_refused(tmp_path, random_checkpoint):
    frames, out = write_bracket(tmp_path), tmp_path / "out.exr"
    result = invoke("merge", *frames, "-e", EXPOSURES, "-o", out, "--scale", "fixed:1e-300", "--weights",
                    random_checkpoint)
    fails_cleanly(result, "outside float32's range")  # before the network runs: one line, even without -q
    assert not out.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--lr", "inf"], "--lr must be a positive finite number"),
    (["--lr", "0"], "--lr must be a positive finite number"),
    (["--lr-decay-every", "-1"], "--lr-decay-every"),
    (["--data", "hdr:/no/such/folder"], "no/such/folder"),
    (["--init", "/no/such.safetensors"], "not found"),
])
def test_a_refused_training_run_creates_nothing(tmp_path, args, message):
    from helpers import TINY_ARGS
    from typer.testing import CliRunner

    from adnet_cli.cli import app

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--out", str(out), "--steps", "1", *TINY_ARGS, *args])
    assert result.exit_code != 0 and message in result.stderr, result.output
    assert not out.exists()


def test_training_stops_on_a_non_finite_loss_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from helpers import tiny_config

    from adnet_cli.errors import AdnetError
    from adnet_cli.training import train as training

    out = tmp_path / "run"
    training.train(tiny_config(out, 2))
    good = (out / "weights.safetensors").read_bytes()
    real_step = training._train_step

    def diverging(config, run, *args):
        real_step(config, run, *args)
        return float("nan"), 0.1

    monkeypatch.setattr(training, "_train_step", diverging)
    with pytest.raises(AdnetError, match="diverged at step 3"):
        training.train(tiny_config(out, 4), resume=out / "state.pt")
    assert (out / "weights.safetensors").read_bytes() == good
    assert "NaN" not in (out / "log.jsonl").read_text() and "Infinity" not in (out / "log.jsonl").read_text()


# ----------------------------------------------------------------------------- messages


def test_brackets_in_names_are_printed_as_they_are(tmp_path, random_checkpoint):
    """Rich markup is off: `d[/x]out.exr` is written and named in full, `IMG [draft]0.png` keeps its brackets."""
    frames = write_bracket(tmp_path)
    odd = frames[0].with_name("IMG [draft]0.png")
    frames[0].rename(odd)
    (tmp_path / "d[").mkdir()
    out = tmp_path / "d[/x]out.exr"
    result = invoke("merge", odd, frames[1], frames[2], "-e", EXPOSURES, "-o", out, "--weights", random_checkpoint)
    assert result.exit_code == 0, result.output
    assert out.exists() and "IMG [draft]0.png" in result.stderr and "d[/x]out.exr" in result.stderr
    dry = invoke("merge", odd, frames[1], frames[2], "-e", EXPOSURES, "-o", tmp_path / "x.exr", "--dry-run")
    assert dry.exit_code == 0 and "IMG [draft]0.png" in dry.stdout


# ----------------------------------------------------------------------------- signals

# Runs the command with one library function replaced by a stand-in that marks the moment (a file)
# and waits, so the test can send SIGTERM exactly there.
_WAITING = """
import sys, time
from pathlib import Path
import {module} as target
marker = Path(sys.argv[1])
real = getattr(target, {name!r})
def waiting(*args, **kwargs):
    {before}
    marker.write_text("now")
    time.sleep(60)
setattr(target, {name!r}, waiting)
sys.argv = ["adnet", *sys.argv[2:]]
from adnet_cli.launch import main
main()
"""


@pytest.mark.parametrize("where", ["network", "preview write", "training step"])
def test_sigterm_cleans_up_and_exits_143(tmp_path, random_checkpoint, where):
    import signal

    frames = [str(p) for p in write_bracket(tmp_path)]
    merge = ["merge", *frames, "-e", EXPOSURES, "-o", "out.exr", "-p", "out.png", "--weights", str(random_checkpoint)]
    train = ["train", "--out", "run", "--steps", "3", "--checkpoint-every", "1", "--width", "16,8,2,2", "--crop", "32",
             "--batch-size", "2", "--val-count", "1", "--val-size", "32"]
    module, name, before, argv = {
        "network": ("adnet_cli.merge.engine", "run_network", "pass", merge),
        "preview write": ("adnet_cli.merge.outputs", "write_ldr_image", "pass", merge),  # the HDR written, not renamed
        # two steps run and are saved; the third waits
        "training step": ("adnet_cli.training.train", "_train_step", "if args[1].step < 2:\n        return real(*args, **kwargs)",
                          train),
    }[where]
    code = _WAITING.format(module=module, name=name, before=before)
    marker = tmp_path / "marker"
    process = subprocess.Popen([sys.executable, "-c", code, str(marker), *argv], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), process.communicate()[1].decode()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err.decode()
    assert err.decode().strip().splitlines()[-1] == "terminated" and "Traceback" not in err.decode()
    left = sorted(p.name for p in tmp_path.rglob("*") if p.name.startswith("."))
    assert left == [], left
    if where == "training step":
        assert (tmp_path / "run" / "state.pt").exists()  # the last complete step's
    else:
        assert not (tmp_path / "out.exr").exists() and not (tmp_path / "out.png").exists()


def test_checkpoint_refusals_say_why_in_the_projects_words(tmp_path):
    import pickle

    import torch

    from adnet_cli.errors import WeightsError
    from adnet_cli.network.weights import read_state_dict

    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(WeightsError, match="the file is empty"):
        read_state_dict(empty)
    objects = tmp_path / "objects.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "opt": pickle.PickleError("x")}, objects)
    with pytest.raises(WeightsError) as caught:
        read_state_dict(objects)
    message = str(caught.value)
    assert "weights_only=True only" in message and "weights_only=False" not in message and "\x1b[" not in message


def test_a_garbage_state_is_refused_in_one_line(tmp_path):
    from helpers import TINY_ARGS
    from typer.testing import CliRunner

    from adnet_cli.cli import app

    out = tmp_path / "run"
    out.mkdir()
    (out / "state.pt").write_bytes(b"\x80\x02]q\x00.")  # a pickle of an empty list: torch.load chokes on it
    result = CliRunner().invoke(app, ["train", "--out", str(out), "--steps", "2", "--resume", "-q", *TINY_ARGS])
    fails_cleanly(result, "is not a training state adnet can read")


def test_long_and_looping_paths_are_one_line(tmp_path, random_checkpoint):
    frames = write_bracket(tmp_path)
    longest = tmp_path / ("x" * 251 + ".exr")  # 255 bytes: legal, though its temporary name would not be
    result = invoke("merge", *frames, "-e", EXPOSURES, "-o", longest, "--weights", random_checkpoint, "-q")
    assert result.exit_code == 0, result.output
    assert read_hdr(longest).shape == (24, 36, 3)
    fails_cleanly(invoke("merge", *frames, "-e", EXPOSURES, "-o", tmp_path / ("y" * 300 + ".exr"), "-q"),
                  "File name too long")
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    fails_cleanly(invoke("merge", frames[0], loop, frames[2], "-e", EXPOSURES, "-o", tmp_path / "o.exr", "-q"),
                  "loop.png")


def test_a_terminal_that_cannot_show_a_name_gets_it_escaped(tmp_path):
    frames = write_bracket(tmp_path)
    named = frames[0].with_name("Zürich.png")
    frames[0].rename(named)
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONPATH": str(ROOT)}
    code = "import sys; sys.argv[0] = 'adnet'; from adnet_cli.launch import main; main()"
    done = subprocess.run([sys.executable, "-c", code, "merge", str(named), str(frames[1]), str(frames[2]), "-e",
                           EXPOSURES, "-o", "x.exr", "--dry-run"], cwd=tmp_path, capture_output=True, env=env)
    assert done.returncode == 0, done.stderr
    assert b"Z\\xfcrich.png" in done.stdout


def test_an_out_folder_that_cannot_be_created_is_one_line(tmp_path):
    from helpers import TINY_ARGS
    from typer.testing import CliRunner

    from adnet_cli.cli import app

    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, ["train", "--out", str(blocker / "run"), "--steps", "1", "-q", *TINY_ARGS])
    fails_cleanly(result, "cannot create it")


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs filled to the last byte (root only; skipped where it cannot be mounted)."""
    mount = tmp_path / "full"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and tmpfs to make a full file system")
    try:
        with open(mount / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 512)
            except OSError:  # ENOSPC: full
                pass
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_disk_leaves_the_earlier_result_whole(tmp_path, random_checkpoint, full_disk):
    frames = write_bracket(tmp_path)
    out = tmp_path / "out.exr"
    out.write_bytes(b"the earlier result")
    result = invoke("merge", *frames, "-e", EXPOSURES, "-o", out, "-p", full_disk / "p.png", "--overwrite",
                    "--weights", random_checkpoint, "-q")
    fails_cleanly(result, "No space left on device")
    assert out.read_bytes() == b"the earlier result"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


def test_an_interrupt_while_the_command_line_loads_is_one_line():
    """SIGINT in the first moments (imports) gives "interrupted" and 130, not a KeyboardInterrupt traceback."""
    code = """
import sys
class Interrupting:
    def find_spec(self, name, path, target=None):
        if name == "adnet_cli.cli":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupting())
from adnet_cli.launch import main
main()
"""
    done = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 130 and done.stderr.strip() == "interrupted", done.stderr
