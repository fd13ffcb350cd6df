"""Built-in strategies, working and broken on purpose.

Working: :class:`MarketMaker`, :class:`Taker`, :class:`Twap` (TWAP / participation),
:class:`Hedger`.  Broken on purpose (:mod:`engines.strategies.faulty`, one per incident):
:class:`FatFinger`, :class:`RunawayChildren`, :class:`FeedbackHedger`,
:class:`FeedbackParticipation`, :class:`StaleQuoter`, :class:`RetryStorm`,
:class:`CancelReplaceStorm`.  All derive from :class:`Strategy` (lifecycle, layer-1
:class:`SanityLimits`, ``on_halt`` policy) and read the market through :func:`feed_for`
(the FIX market data the engine's own session receives).
"""

from engines.strategies.base import (
    BUY,
    SELL,
    OrderRequest,
    SanityDenial,
    SanityLimits,
    Strategy,
    StrategyState,
)
from engines.strategies.faulty import (
    CancelReplaceStorm,
    FatFinger,
    FeedbackHedger,
    FeedbackParticipation,
    RetryStorm,
    RunawayChildren,
    StaleQuoter,
)
from engines.strategies.hedger import Hedger
from engines.strategies.market_data import (
    BookView,
    EngineFeed,
    Feed,
    MarketDataClient,
    MarketDataTap,
    feed_for,
)
from engines.strategies.market_maker import MarketMaker
from engines.strategies.taker import Taker
from engines.strategies.twap import Twap

__all__ = [
    "BUY", "SELL", "BookView", "CancelReplaceStorm", "EngineFeed", "FatFinger", "Feed", "FeedbackHedger",
    "FeedbackParticipation", "Hedger", "MarketDataClient", "MarketDataTap", "MarketMaker", "OrderRequest",
    "RetryStorm", "RunawayChildren", "SanityDenial", "SanityLimits", "StaleQuoter", "Strategy", "StrategyState",
    "Taker", "Twap", "feed_for",
]
