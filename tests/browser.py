"""Headless Chromium for the HTML page's tests and bench (bench/bench_html.py imports this): Debian's chromium
package, driven by Playwright with `executable_path` (Playwright's own browser download cannot run where curate
is developed). The flags keep a headless Chromium from reaching for the network at start."""

from __future__ import annotations

import os
import shutil
import subprocess

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def find_chromium(install: bool = True) -> str | None:
    """Chromium's path ($CURATE_CHROMIUM, or on PATH). On a Debian machine where this runs as root, as in CI, it
    is installed once with apt-get when missing (and `install` is true)."""
    found = os.environ.get("CURATE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found or not install:
        return found
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for _attempt in range(2):
            r = subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, env=env)
            if r.returncode == 0:
                break
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        return shutil.which("chromium")
    return None
