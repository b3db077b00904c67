"""The environment is the pinned one: the vision figures in the README hold for exact versions.

Two distributions provide ``cv2`` (the headless build footy asks for, the GUI build ``trackers``
asks for); whichever pip installs last wins, so both are pinned to one version and ``cv2`` must be it.
"""
import re
from importlib import metadata
from pathlib import Path

import cv2
import pytest

ROOT = Path(__file__).resolve().parents[1]


def pins(requirements: str) -> dict[str, str]:
    """name -> version of each ``name==version`` line (extras dropped, ``-r`` lines skipped)."""
    found = {}
    for line in (ROOT / requirements).read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line.split("#")[0].strip())
        if match:
            found[match.group(1)] = match.group(3)
    return found


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-dev.txt"])
def test_every_pinned_package_is_installed_at_its_pin(requirements):
    assert pins(requirements), f"no pins read from {requirements}"
    wrong = {name: f"pinned {want}, installed {metadata.version(name)}"
             for name, want in pins(requirements).items() if metadata.version(name) != want}
    assert not wrong


def test_cv2_is_the_pinned_opencv_whichever_build_provides_it():
    runtime = pins("requirements.txt")
    assert runtime["opencv-python"] == runtime["opencv-python-headless"]
    assert cv2.__version__ == ".".join(runtime["opencv-python-headless"].split(".")[:3])
