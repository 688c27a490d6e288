"""Layer analysis: probe each candidate's features on random-policy data before any RL (and,
through a :class:`LayerProbe` such as the agent's acting probes, how well they act)."""

from .acting import ACTING_METRICS, ActingSettings, LayerProbe
from .dataset import TransitionData, collect_transitions
from .probes import fit_ridge_cv, r2_score
from .rank import effective_rank
from .score import METRICS, SELECTION_METRICS, LayerScores, analyze_layers, composite, select_layer

__all__ = ["ACTING_METRICS", "METRICS", "SELECTION_METRICS", "ActingSettings", "LayerProbe",
           "LayerScores", "TransitionData", "analyze_layers", "collect_transitions",
           "composite", "effective_rank", "fit_ridge_cv", "r2_score", "select_layer"]
