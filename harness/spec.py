"""Frozen experiment specs: what a run is. A run's identity is the hash of its spec.

Every field has a default, so a spec written in a claim module only names what differs.
`spec_dict` is the canonical JSON-safe form used for hashing and for reports.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

ARCHS = ("mlp", "cnn", "dln")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")
INITS = ("default", "he", "glorot", "small_gaussian")
NORMS = ("none", "bn", "bn_noaffine", "noisy_bn", "ghost_bn", "l1", "l2", "linf", "ln", "gn", "wn_mobn", "bn_pop",
         "noisy_none", "affine_only", "bn_detach")
# Knock-out arms (harness.norms): affine_only keeps BN's gamma and beta and skips the normalization; bn_detach
# normalizes by the batch's statistics but passes no gradient through them.
# Norms that keep no running statistics (the same computation in train and eval).
STATELESS_NORMS = ("ln", "gn", "noisy_none", "affine_only")
NOISY_NORMS = ("noisy_bn", "noisy_none")   # Santurkar Alg. 1 noise after BN, or in the plain net
# Norms that make the preceding weight matrix scale-invariant (the output does not change when W is scaled),
# so its effective learning rate is lr / |W|^2 (van Laarhoven 2017; Arora, Li & Lyu 2019). bn_pop is not:
# its statistics come from earlier batches.
SCALE_INVARIANT_NORMS = ("bn", "bn_noaffine", "noisy_bn", "ghost_bn", "l1", "l2", "linf", "ln", "gn", "wn_mobn",
                         "bn_detach")
PROBES = ("ics", "drift", "landscape", "landscape_eff")
# Fields added after run keys were first written: they enter a spec's canonical form (and so its hash)
# only when set away from their default, so every earlier spec keeps its hash and its store entries.
LATE_FIELDS = {"groups": 0, "val_rows": 0, "compile": "off"}
DATASETS = ("mnist1d", "synthetic", "dln")
OPTIMIZERS = ("sgd", "adam")
TRAINABLE = ("all", "bn_affine", "random_linear")
# torch.compile modes for the batched engine's train step: "default" is torch's default mode; "reduce-overhead"
# adds CUDA graphs on an accelerator and compiles as "default" does on CPU. Left out: "max-autotune-no-cudagraphs",
# whose kernel choice is made by timing, so a run's last bits would depend on the machine's load.
COMPILE_MODES = ("off", "default", "reduce-overhead")


@dataclass(frozen=True)
class ModelSpec:
    arch: str = "mlp"             # mlp: depth hidden layers of width; dln: depth square linear layers
    depth: int = 4
    width: int = 128
    activation: str = "relu"
    init: str = "default"         # default = torch.nn.Linear's U(+-1/sqrt(fan_in)); small_gaussian: N(0, init_std^2)
    init_std: float = 0.01
    norm: str = "none"            # normalization after every hidden linear layer (before the nonlinearity)
    norm_layers: tuple = ()       # hidden-layer indices that get the norm; () = all hidden layers
    ghost_size: int = 0           # ghost_bn: statistics over sub-batches of this size
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    noise: tuple = (0.5, 1.25, 0.1, 0.1)   # noisy_bn (Santurkar Alg. 1): n_mu, n_sigma, r_mu, r_sigma
    bias: bool | None = None      # None: bias unless the layer is followed by a norm (Ioffe Sec. 3.2)
    groups: int = 0               # gn: number of unit groups (GroupNorm, Wu & He 2018); 0 = 8

    def __post_init__(self):
        _check("arch", self.arch, ARCHS)
        _check("activation", self.activation, ACTIVATIONS)
        _check("init", self.init, INITS)
        _check("norm", self.norm, NORMS)
        if self.depth < 1 or self.width < 1:
            raise ValueError("depth and width must be >= 1")
        if self.norm == "ghost_bn" and self.ghost_size < 2:
            raise ValueError("ghost_bn needs ghost_size >= 2")
        if self.groups < 0 or (self.norm == "gn" and self.width % self.n_groups):
            raise ValueError(f"gn needs the width ({self.width}) to be a multiple of groups ({self.n_groups})")
        if self.norm == "gn" and self.arch == "dln":
            raise ValueError("gn is defined for the MLP (width units), not the deep linear net")
        if self.arch == "cnn" and self.norm not in ("none", "bn", "bn_noaffine"):
            raise ValueError(f"the CNN supports norm none, bn or bn_noaffine, not {self.norm!r}")

    @property
    def n_groups(self) -> int:
        return self.groups or 8

    def normed(self, layer: int) -> bool:
        return self.norm != "none" and (not self.norm_layers or layer in self.norm_layers)

    def has_bias(self, layer: int) -> bool:
        if self.bias is not None:
            return self.bias
        return not self.normed(layer) or self.norm == "noisy_none"     # the noisy plain net keeps its biases


@dataclass(frozen=True)
class TrainSpec:
    model: ModelSpec = field(default_factory=ModelSpec)
    data: str = "mnist1d"
    data_seed: int = 42            # the dataset itself (mnist1d default 42); model seeds are separate
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    batch_size: int = 64           # 0 = full batch
    steps: int = 2000
    eval_every: int = 100          # full train/test evaluation every this many steps (and at the end)
    trainable: str = "all"         # all | bn_affine (only gamma, beta) | random_linear (as many random Linear weights)
    freeze_output: bool = False    # freeze the output layer (BN-only experiments)
    probes: tuple = ()             # probe names, see harness.engine.PROBES (arrays: harness.arrays)
    probe_every: int = 0
    probe_until: int = 0           # 0 = until the end
    probe_layers: tuple = ()       # hidden-layer indices (0-based) for ICS probes
    probe_batch: int = 512         # fixed probe batch size (first rows of the train set)
    landscape_factors: tuple = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
    val_rows: int = 0              # > 0: the last rows of the training set are a validation split, never trained
                                   # on; evaluated like train and test, and the final logits are kept
    compile: str = "off"           # torch.compile mode of the batched engine's train step (COMPILE_MODES); in the
                                   # key because compiled kernels differ from eager ones in the last bits

    def __post_init__(self):
        _check("data", self.data, DATASETS)
        _check("optimizer", self.optimizer, OPTIMIZERS)
        _check("trainable", self.trainable, TRAINABLE)
        _check("compile", self.compile, COMPILE_MODES)
        if self.val_rows < 0:
            raise ValueError("val_rows must be >= 0")
        if self.steps < 0 or self.batch_size < 0 or self.eval_every < 1:
            raise ValueError("steps and batch_size must be >= 0 and eval_every >= 1")
        if not self.lr > 0:
            raise ValueError("lr must be > 0")
        if self.probes and self.probe_every < 1:
            raise ValueError("probes need probe_every >= 1")
        unknown = set(self.probes) - set(PROBES)
        if unknown:
            raise ValueError(f"unknown probes {sorted(unknown)}; choose from {', '.join(PROBES)}")
        hidden = self.model.depth - 1 if self.model.arch == "dln" else self.model.depth
        if any(not 0 <= int(i) < hidden for i in self.probe_layers):
            raise ValueError(f"probe_layers {self.probe_layers} out of range for {hidden} hidden layers")
        if self.model.norm == "wn_mobn" and self.trainable != "all":
            raise ValueError("wn_mobn (weight normalization) trains all parameters; trainable must be 'all'")
        if self.model.norm == "ghost_bn" and self.batch_size and self.batch_size % self.model.ghost_size:
            raise ValueError(f"batch size {self.batch_size} is not a multiple of ghost size {self.model.ghost_size}")

    def replace(self, **kw) -> "TrainSpec":
        model_kw = {k[6:]: kw.pop(k) for k in list(kw) if k.startswith("model_")}
        model = dataclasses.replace(self.model, **model_kw) if model_kw else self.model
        return dataclasses.replace(self, model=model, **kw)


def _check(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")


def spec_dict(spec) -> dict:
    d = dataclasses.asdict(spec)
    for part in (d, d.get("model")):
        if isinstance(part, dict):
            for name, default in LATE_FIELDS.items():
                if name in part and part[name] == default:
                    del part[name]
    return json.loads(json.dumps(d))    # tuples -> lists, canonical builtins


def spec_hash(spec) -> str:
    blob = json.dumps(spec_dict(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
