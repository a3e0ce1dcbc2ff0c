"""Peak RSS of an `adnet merge` over time, with its progress lines, to see in which phase it peaks.

Run from the repository root:  python benchmarks/merge_rss.py [HEIGHT WIDTH]   (default 2000 3000)

Writes a synthetic bracket (as `cpu_merge.py --24mp` does), merges it with the default settings and
samples the child's VmRSS every 0.2 s; prints the peak, when it came, the last progress lines and
about 40 samples. A heap that grows window after window shows as steps while the tiles run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):
        return None


def main() -> None:
    height, width = (int(v) for v in sys.argv[1:3]) if len(sys.argv) >= 3 else (2000, 3000)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, str(HERE / "cpu_merge.py"), "--write-bracket", tmp, str(height), str(width)],
                       check=True)
        names = [f"{tmp}/{n}.png" for n in ("short", "medium", "long")]
        cmd = [str(Path(sys.executable).with_name("adnet")), "merge", *names, "-e", "1,4,16",
               "-o", f"{tmp}/o.exr", "--preview", f"{tmp}/o.png"]
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        lines: list[tuple[float, str]] = []
        threading.Thread(target=lambda: lines.extend((time.perf_counter() - start, ln.strip()[:90])
                                                     for ln in child.stderr), daemon=True).start()
        samples = []
        while child.poll() is None:
            mb = rss_mb(child.pid)
            if mb is not None:
                samples.append((time.perf_counter() - start, mb))
            time.sleep(0.2)
    peak = max(samples, key=lambda s: s[1])
    print(f"{width}x{height}: peak RSS {peak[1]:.0f} MB at {peak[0]:.1f} s of {samples[-1][0]:.1f} s, exit {child.returncode}")
    for t, line in lines[-4:]:
        print(f"{t:7.1f} s  {line}")
    for t, mb in samples[:: max(1, len(samples) // 40)]:
        print(f"{t:7.1f} s {mb:7.0f} MB")


if __name__ == "__main__":
    main()
