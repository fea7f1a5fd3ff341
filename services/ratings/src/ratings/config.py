"""Settings of ratings: env prefix ``RATINGS_``; the shared infrastructure variables unprefixed too."""

from pydantic import Field

from ratings.domain import RankingRules
from servicekit.config import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("RATINGS_")

    service_name: str = "ratings"
    port: int = 8003
    rating_link_base: str = Field(default="http://127.0.0.1:8003/rate?token=",
                                  description="The rating link sent to applicants: this, then the token.")
    token_ttl_days: float = Field(default=30.0, gt=0, le=366, description="A rating link works this long.")
    default_ledger_owner: str = Field(default="duty-supervisor",
                                      description="Owner of ledger entries whose window names none.")
    callback_workdays: int = Field(default=1, ge=1, le=10, description="The callback is due within this many working days.")
    warning_before_hours: float = Field(default=8.0, ge=0, description="Rectification due warning this long before.")
    request_workdays: int = Field(default=5, ge=1, le=30, description="Time limit of consultations, suggestions, complaints.")
    # The red and black list's ranking rules (红黑榜)
    rank_min_ratings: int = Field(default=10, ge=1, description="Fewer ratings than this in the month: not ranked.")
    rank_red_size: int = Field(default=3, ge=0, le=100)
    rank_black_size: int = Field(default=3, ge=0, le=100)
    rank_red_min_rate: float = Field(default=0.95, ge=0, le=1, description="Lowest satisfaction rate on the red list.")
    rank_black_min_bad: int = Field(default=1, ge=1, description="Fewest bad ratings to be on the black list.")
    clock_file: str = Field(default="", description="Tests only: a file holding an ISO-8601 instant the service "
                            "takes as now (empty: the system clock).")

    def ranking(self) -> RankingRules:
        return RankingRules(self.rank_min_ratings, self.rank_red_size, self.rank_black_size, self.rank_red_min_rate,
                            self.rank_black_min_bad)
