"""Errors raised by equilib: bad games, bad solver configuration, non-finite values."""

__all__ = ["GameError", "SolverError", "NonFiniteError"]


class GameError(ValueError):
    """A game is declared wrongly (players, parameters, or what the losses return)."""


class SolverError(ValueError):
    """A solver is configured wrongly (name, learning rate, options, state)."""


class NonFiniteError(FloatingPointError):
    """A loss or gradient became NaN or Inf; the parameters are left as they were before the step."""

    def __init__(self, player: str, step: int, what: str, value: float | None = None):
        self.player, self.step, self.what = player, step, what
        detail = f" ({value})" if value is not None else ""
        super().__init__(
            f"non-finite {what}{detail} for player {player!r} at step {step}; "
            "the parameters were left as they were before this step"
        )
