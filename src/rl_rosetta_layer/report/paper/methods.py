"""What the paper says about the layers, the adapters, the configuration and the machine.

Everything here reads ``report_facts.json`` (through :class:`.inputs.Outputs` or
its sections): the ``layers`` section (kind, widths, trainable parameters, as the layers
and networks report them) and the ``training`` section (config, budgets, hosts, versions).
"""

from __future__ import annotations

from collections.abc import Mapping

from ...layers.registry import KNOWN
from ..figures import layer_kind
from .formatting import code, names_list
from .inputs import Outputs

#: What each of the package's own layers computes, for the layer table.
LAYER_DESCRIPTIONS = {
    "random_wide": "tanh of a fixed random Gaussian projection (the seed's)",
    "random_narrow": "tanh of a fixed random Gaussian projection (the seed's)",
    "bottleneck": "tanh of a fixed random Gaussian projection (the seed's)",
    "structured_mid": "fixed geometric features of the agent and goal maps (the seed's)",
    "identity": "no layer: the adapters alone",
    "mlp_full": "the same network with its body trainable: a fully trainable small MLP",
}
#: Order of the layer kinds in the layer table.
_KIND_ORDER = {"candidate": 0, "baseline": 1, "bank": 2}


def is_synthetic(layers: Mapping) -> bool:
    """Whether every layer is one of the package's synthetic numpy layers (no video model)."""
    return all(name in KNOWN for name in layers)


def adapters_sentence(cfg: Mapping, env: Mapping) -> str:
    """The input and output adapters of ``cfg`` (the runs' common DQN config, as
    ``DQNConfig.to_dict`` writes it), one sentence."""
    kind = cfg.get("adapter")
    if kind == "lowrank":
        adapter = (f"The input adapter is a low-rank residual map x + tanh(xU)V of rank "
                   f"{cfg.get('adapter_rank')}, exactly the identity at the start and trained "
                   f"with plain SGD")
    elif kind == "none":
        adapter = "There is no input adapter: the frozen layer reads the observation itself"
    else:
        adapter = "The input adapter is a dense near-identity map tanh(xA + c), trained with SGD"
    if cfg.get("head") == "mlp":
        # to_dict leaves out these two at their defaults (DQNConfig's OMITTED_DEFAULTS)
        norm = (", normalised by a LayerNorm without affine parameters before its "
                "activation," if cfg.get("head_norm", "none") == "layer" else "")
        head = (f"the output adapter is one {cfg.get('head_activation', 'tanh')} hidden layer "
                f"of {cfg.get('head_hidden')} units{norm} followed by a linear map to the "
                f"{env.get('n_actions', 'action')} Q-values, trained with Adam")
    else:
        head = "the output adapter is a linear map to the Q-values, trained with Adam"
    return f"{adapter}; {head}."


def trainable_params_sentence(layers: Mapping) -> str:
    """' Between P and Q parameters train per layer (Table 1)...' ('' without counts)."""
    params = [v["trainable_params"] for k, v in layers.items()
              if "trainable_params" in v and k != "mlp_full"]
    if not params:
        return ""
    return (f" Between {min(params)} and {max(params)} parameters train per layer (Table 1)"
            + (", except for the `mlp_full` baseline, whose body trains as well." if "mlp_full"
               in layers else "."))


def layers_table(o: Outputs) -> str:
    """Table 1: every layer with its kind, what it computes, its widths and the parameters
    that train with it; candidates first, then baselines, then the random bank."""
    layers = o.facts.get("layers", {})
    rows = ["| Layer | kind | what it is | input → output | trainable parameters |",
            "|---|---|---|---|---|"]
    order = {n: k for k, n in enumerate(list(o.facts.get("analysis", {}).get("layers", []))
                                         + [r["layer"] for r in o.summary])}
    for name, info in sorted(layers.items(), key=lambda kv: (
            _KIND_ORDER.get(kv[1]["kind"], 3), order.get(kv[0], len(order)), kv[0])):
        desc = LAYER_DESCRIPTIONS.get(name, "frozen random tanh layer of the selected layer's "
                                      "shape" if layer_kind(name) == "bank" else "frozen layer")
        shape = (f"{info['input_dim']} → {info['output_dim']}" if "input_dim" in info else "—")
        rows.append(f"| {code(name)}{' (selected)' if name == o.selected else ''} | "
                    f"{info['kind']} | {desc} | {shape} | {info.get('trainable_params', '—')} |")
    return "\n".join(rows)


def config_table(tr: Mapping) -> str:
    """Table 2: the settings every run shared, and a note naming those that differ."""
    cfg = dict(tr.get("config", {}))
    if cfg.get("env_steps"):
        cfg.pop("episodes", None)      # unused under an env-step budget (not in the run id)
    rows = ["| setting | value |", "|---|---|"]
    rows += [f"| {code(k)} | {v} |" for k, v in sorted(cfg.items())]
    text = "\n".join(rows)
    if tr.get("config_differs"):
        text += (f"\n\nRuns differ in {names_list(tr['config_differs'])}: the "
                 f"budgets are not identical.")
    return text


def hardware_text(tr: Mapping) -> str:
    """Hosts, wall-clock times, library versions and commits of the runs."""
    versions = ", ".join(f"`{k} {'/'.join(v)}`" for k, v in sorted(tr.get("versions", {}).items()))
    commits = ", ".join(f"`{c[:12]}`" for c in tr.get("commits", [])) or "not recorded"
    return (
        f"The run records name the host{'s' if len(tr['hosts']) > 1 else ''} "
        f"{', '.join(code(h) for h in tr['hosts'])} but not its processor. Training took "
        f"{tr['wall_seconds_total']:.1f} s summed over runs ({tr['wall_seconds_per_run_min']:.1f}"
        f" to {tr['wall_seconds_per_run_max']:.1f} s per run, as recorded; seeds trained in "
        f"lockstep share one process). Software: {versions}; commit {commits}.")
