"""Layer analysis: probe each candidate's features on random-policy data before any RL."""

from .dataset import TransitionData, collect_transitions
from .probes import fit_ridge_cv, r2_score
from .rank import effective_rank
from .score import METRICS, SELECTION_METRICS, LayerScores, analyze_layers, composite, select_layer

__all__ = ["METRICS", "SELECTION_METRICS", "LayerScores", "TransitionData", "analyze_layers",
           "collect_transitions", "composite", "effective_rank", "fit_ridge_cv", "r2_score",
           "select_layer"]
