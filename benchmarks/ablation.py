"""Equal-time ablation of the output base and the width: short `adnet train` runs, same data, seed and
minutes each, and a table of validation PSNR-mu (both sets) against training minutes.

Run from the repository root (each run one CPU thread; --parallel runs at once, in the order given, so
pairs share the machine alike; the runs' folders go under --out):
    python benchmarks/ablation.py --out /work/runs/ablation --minutes 6 --parallel 2 [--configs merge-64,...]
    python benchmarks/ablation.py --out /work/runs/ablation --table-only
Configs: <base>-<nf> (nf 64 = the paper's width with growth 32; nf 32 with growth 16), optionally
"-init" (start from the shipped weights: their features, the last conv zeroed for a residual base).
Minute 0 of a residual run is its base alone (an untrained residual model equals it exactly).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
CONFIGS = ("none-64", "none-32", "reference-64", "reference-32", "merge-64", "merge-32", "merge-64-init", "none-64-init")
WIDTHS = {"64": "64,32,5,8", "32": "32,16,5,8"}
KEYS = ("synthetic.all.psnr_mu", "real.static.psnr_mu", "real.moving.psnr_mu", "real.all.psnr_mu")


def command(config: str, out: Path, minutes: float, val_every: int, seed: int) -> list[str]:
    base, nf, *init = config.split("-")
    args = [sys.executable, "-m", "adnet_cli", "train", "--out", str(out / config), "--overwrite", "--quiet",
            "--data", "synthetic", "--data", f"hdr:{SHARED / 'hdr'}", "--data", f"hdr:{SHARED / 'ldr' / 'kodak24'}",
            "--base", base, "--width", WIDTHS[nf], "--crop", "128", "--batch-size", "4", "--lr", "2e-4",
            "--steps", "100000", "--max-minutes", str(minutes), "--val-every", str(val_every),
            "--checkpoint-every", "100000", "--seed", str(seed)]
    if init:
        args += ["--init", str(ROOT / "adnet_cli" / "checkpoints" / "adnet-synthetic.safetensors")]
    return args


def base_scores(bases: set[str]) -> dict[str, dict[str, float]]:
    """Minute 0 of a residual run: its base alone on both sets, flattened as the training log has it."""
    from adnet_cli.training.scene_sources import validation_scene_files
    from adnet_cli.training.validation import flatten, score_base, validation_sets

    sets = validation_sets(scene_files=validation_scene_files([SHARED / "hdr"])).named()
    found = {}
    for base in sorted(bases - {"none"}):
        found[base] = {k: v for name, samples in sets.items()
                       for k, v in flatten(name, score_base(samples, base, "kalantari")).items()}
    return found


def table(out: Path, configs: list[str]) -> None:
    print(f"| config | minutes | steps | crops | {' | '.join(KEYS)} |")
    print("| --- | --- | --- | --- |" + " --- |" * len(KEYS))
    bases = base_scores({c.split("-")[0] for c in configs})
    for config in configs:
        log = out / config / "log.jsonl"
        if not log.exists():
            continue
        if config.split("-")[0] in bases:
            values = " | ".join(f"{bases[config.split('-')[0]][k]:.2f}" for k in KEYS)
            print(f"| {config} | 0 | 0 | 0 | {values} |")
        for event in map(json.loads, log.read_text().splitlines()):
            if event["event"] == "validation":
                values = " | ".join(f"{event[k]:.2f}" if k in event else "-" for k in KEYS)
                minutes = event["train_seconds"] / 60
                print(f"| {config} | {minutes:.1f} | {event['step']} | {4 * event['step']} | {values} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--val-every", type=int, default=100000, help="steps between validations (and at the end)")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if not args.table_only:
        for i in range(0, len(configs), args.parallel):
            running = []
            for config in configs[i : i + args.parallel]:
                cmd = command(config, args.out, args.minutes, args.val_every, args.seed)
                print(f"running {config}: {' '.join(cmd)}", flush=True)
                running.append(subprocess.Popen(cmd, env=env, cwd=ROOT))
            if any(p.wait() for p in running):
                sys.exit("a run failed")
    table(args.out, configs)


if __name__ == "__main__":
    main()
