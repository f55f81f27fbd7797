""""Did you mean ...?" for misspelt names (losses, metrics, optimizers, activations, keywords)."""
from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name, choices: Iterable[str]) -> str:
    """" Did you mean 'x'?" for the closest of `choices` to `name`, or "" when none is close."""
    if not isinstance(name, str):
        return ""
    options = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(options), n=1, cutoff=0.6)
    return f" Did you mean {options[close[0]]!r}?" if close else ""


def check_keywords(fn):
    """Decorator: an unknown keyword argument raises a TypeError naming the closest known one
    (`fit(x, y, epoch=5)` -> "Did you mean 'epochs'?")."""
    import functools
    import inspect
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return fn
    known = frozenset(params) - {"self"}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs and not known.issuperset(kwargs):
            bad = sorted(set(kwargs) - known)
            raise TypeError(f"{fn.__name__}() got an unexpected keyword argument {bad[0]!r}."
                            f"{did_you_mean(bad[0], known)}")
        return fn(*args, **kwargs)
    return wrapper
