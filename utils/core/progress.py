"""Progress bars for long interactive work, never saved into executed notebooks.

``bar`` is ``tqdm`` except that ``disable`` is only ever passed to switch a bar *off*: an explicit
``disable=False`` would override the ``TQDM_DISABLE`` environment variable, which ``utils.report``
sets for the notebooks it executes. In JupyterLab (``make lab``) and in a terminal the bars show.
"""

from __future__ import annotations

import os

from tqdm.auto import tqdm

QUIET = {
    "TQDM_DISABLE": "1",  # every tqdm bar, ours and the libraries'
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",  # datasets' save_to_disk / map bars
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # hub downloads
}


def bar(iterable=None, *, disable: bool = False, **kwargs) -> tqdm:
    """A tqdm bar; ``disable=True`` switches it off, ``False`` leaves the environment's default."""
    if disable:
        kwargs["disable"] = True
    return tqdm(iterable, **kwargs)


def quiet_environment() -> dict[str, str]:
    """The environment variables that silence every progress bar (set for executed notebooks)."""
    return dict(QUIET)


def silenced() -> bool:
    """True when progress bars are switched off for this process (an executed notebook)."""
    return os.environ.get("TQDM_DISABLE", "") not in ("", "0", "false", "False")
