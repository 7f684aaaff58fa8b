"""Attention probes: what a model looks at for a clicked pixel, as maps in image coordinates."""


def head_index(head, heads: int) -> int | None:
    """One rule for every probe: None for the mean over heads ("mean", "" or None), else the head's index, which
    must be a whole number in 0..heads−1 (no negative indexing)."""
    if head in ("mean", "", None):
        return None
    try:
        index = int(str(head).strip())
    except ValueError:
        raise ValueError(f"head must be 'mean' or a head number (0–{heads - 1}), not {str(head)[:20]!r}.") from None
    if not 0 <= index < heads:
        raise ValueError(f"head {index} does not exist: this layer has {heads} heads (0–{heads - 1}).")
    return index
