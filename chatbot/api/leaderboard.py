"""The leaderboard as GET /leaderboard answers it: ratings with their intervals, head-to-head
records, how many votes would separate neighbours, and the style and cost figures. The service
computes it (chatbot/chat/leaderboard.py); the web app draws it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

#: A model with fewer counted votes than this is marked provisional: its rating may still move a lot.
PROVISIONAL_UNDER_VOTES = 50


class _Figures(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rating(_Figures):
    model: str
    #: Bradley-Terry on the Elo scale, and its 95% bootstrap interval. (There is no online Elo:
    #: it needs every vote in order, and depends on that order; lmarena replaced it by
    #: Bradley-Terry for the same reason. An earlier `elo` field only repeated this rating.)
    bradley_terry: float
    bt_lower: float
    bt_upper: float
    #: Bradley-Terry with the answers' length difference as a covariate, and its interval.
    style_controlled: float
    sc_lower: float
    sc_upper: float
    votes: int
    wins: int
    losses: int
    ties: int
    median_ttft_ms: float | None = None
    median_tokens_per_s: float | None = None
    usd_per_1k_output_tokens: float | None = None
    #: local, bedrock, sagemaker or unknown; `cost_note` says how the price was reached.
    cost_basis: str = "unknown"
    cost_note: str = ""
    #: On the Pareto front of rating against cost (no model is both better and cheaper).
    pareto_cost: bool = False
    #: On the Pareto front of rating against speed (no model is both better and faster).
    pareto_speed: bool = False
    #: Fewer than PROVISIONAL_UNDER_VOTES counted votes: the rating may still move a lot.
    provisional: bool = False
    #: The model is no longer in the catalog: no new votes can reach it.
    retired: bool = False


class PairRecord(_Figures):
    model_a: str
    model_b: str
    a_wins: int
    b_wins: int
    ties: int

    @property
    def a_win_rate(self) -> float:
        games = self.a_wins + self.b_wins + self.ties
        return (self.a_wins + self.ties / 2) / games if games else 0.5


class Separation(_Figures):
    """Two neighbours in the ranking, and the votes that would tell them apart."""

    higher: str
    lower: str
    #: More votes between them, at the current win rate, until their intervals stop
    #: overlapping: 0 if they already do not; None if they never would (equal ratings).
    votes_to_separate: int | None


class Leaderboard(_Figures):
    ratings: list[Rating]
    pairs: list[PairRecord]
    #: Votes counted.
    votes: int
    #: Votes not counted, by reason code (identity_leak, over_daily_limit).
    voided: dict[str, int] = {}
    separation: list[Separation] = []
    #: Style control: Elo points a model gains for an answer as long as it can be, against one
    #: of no length (positive: voters prefer longer answers).
    length_effect: float | None = None
    #: Style control with more than length (lmarena's): rating points per covariate (length,
    #: headers, lists, bold) for an answer with all of it against one with none; positive:
    #: voters prefer more of it. The style-controlled rating takes each out.
    style_effects: dict[str, float] = {}
    #: The cheapest model whose 95% interval overlaps the top model's.
    cheapest_near_top: str | None = None
    #: The category this board ranks (chatbot/chat/style.py), None for every vote.
    category: str | None = None
    #: Battles counted per category (each filters the board).
    categories: dict[str, int] = {}
    #: A model with fewer counted votes than this is marked provisional.
    provisional_under_votes: int = PROVISIONAL_UNDER_VOTES
    #: The stored fit this is (chatbot/chat/fit_store.py): its version and when it was fitted;
    #: None for a leaderboard not stored (a battles file's).
    version: int | None = None
    fitted_at: datetime | None = None
