"""The session's options, shared by the pytest plugin and the command line, with clear usage errors."""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from recipebench.api import CHAPTER_SUITE, LABEL_FOLDERS, SCALE_NAMES
from recipebench.data.checks import MIN_CLASS_IMAGES

DEVICES = ("auto", "cpu", "cuda")
CPU_BF16 = ("auto", "always", "never")
SPLITS = ("auto", "random", "folders")  # folders:NAME names the validation folder
#: Where the cases train: here, one after another (local); as Ray tasks on a local Ray instance (ray), on the
#: cluster this machine is part of (auto), or on one at an address (ray://HOST:PORT).
EXECUTORS = ("local", "ray", "auto", "ray://HOST:PORT")


class UsageError(ValueError):
    """A bad option value; the message names the option."""


#: The largest seed a run honours: fastai's ``set_seed`` gives torch the seed itself (it takes 0..2**64-1) but
#: numpy ``seed % (2**32 - 1)``, so a larger seed would repeat a smaller one's numpy stream.
MAX_SEED = 2**32 - 2


def parse_seeds(text: str) -> tuple[int, ...]:
    """``--seeds 3`` -> (0, 1, 2); ``--seeds 0,5,7`` -> (0, 5, 7); each from 0 to :data:`MAX_SEED`."""
    text = str(text).strip()
    try:
        if "," in text:
            seeds = tuple(int(s) for s in text.split(",") if s.strip())
        else:
            n = int(text)
            if n < 1:
                raise UsageError(f"--seeds {text}: need at least one seed")
            if n - 1 > MAX_SEED:
                seeds = (n - 1,)  # refused below, before a range that large is made
            else:
                seeds = tuple(range(n))
    except ValueError as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"--seeds {text!r}: give a count (3) or a comma-separated list (0,5,7)") from None
    if any(not 0 <= s <= MAX_SEED for s in seeds):
        raise UsageError(f"--seeds {text!r}: seeds are whole numbers from 0 to {MAX_SEED} (fastai seeds numpy with "
                         "the seed modulo 2**32-1, so a larger one would repeat a smaller one's stream)")
    if not seeds or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds {text!r}: seeds must be distinct and at least one")
    return seeds


def parse_target_error(text: str) -> float:
    """``--target-error 0.25``: a validation error rate, between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise UsageError(f"--target-error {text!r}: an error rate between 0 and 1, e.g. 0.25")
    return value


def _positive_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--cases-per-node {text!r}: give a whole number (1, 2, ...)") from None


def _parse_dotted(items: Sequence[str], flag: str, owner: str, last_dot: bool) -> Mapping[str, Mapping[str, str]]:
    """``OWNER.KEY=VALUE`` items -> {OWNER: {KEY: VALUE}}; split at the last dot when owners' names hold dots."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        head, sep, value = item.partition("=")
        name, dot, key = head.rpartition(".") if last_dot else head.partition(".")
        if not (sep and dot and name and key):
            raise UsageError(f"{flag} {item!r}: expected {owner}.KEY=VALUE")
        out.setdefault(name, {})[key] = value
    return MappingProxyType({k: MappingProxyType(v) for k, v in out.items()})


def parse_recipe_options(items: Sequence[str]) -> Mapping[str, Mapping[str, str]]:
    """``--recipe-option lr_find_tuned.suggestion=steep`` -> {"lr_find_tuned": {"suggestion": "steep"}}."""
    return _parse_dotted(items, "--recipe-option", "RECIPE", last_dot=False)


def parse_output_options(items: Sequence[str]) -> Mapping[str, Mapping[str, str]]:
    """``--output-option mlflow.experiment=chapter5`` -> {"mlflow": {"experiment": "chapter5"}}; an output's
    name may hold dots (``summary.md``), its option's key does not."""
    return _parse_dotted(items, "--output-option", "OUTPUT", last_dot=True)


def coerce_option(recipe: str, key: str, value: str, default: Any) -> Any:
    """Convert a --recipe-option string to the type of the recipe's default."""
    if isinstance(default, bool):
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
    else:
        try:
            return type(default)(value)
        except ValueError:
            pass
    raise UsageError(f"--recipe-option {recipe}.{key}={value}: expected a {type(default).__name__} like {default!r}")


@dataclass(frozen=True)
class Options:
    """What a session was asked to do."""

    workload: str = "synthetic"
    scale: str | None = None  # None: quick on CPU, full on CUDA
    seeds: tuple[int, ...] = (0,)
    recipes: tuple[str, ...] = ()  # empty: every registered recipe of ``suite``
    suite: str = CHAPTER_SUITE  # without --recipe: the recipes of this suite (Recipe.suite), or all
    device: str = "auto"
    results_dir: Path = Path("results")
    plugins_dir: Path | None = None
    cache_dir: Path | None = None
    data_dir: Path | None = None
    label_re: str | None = None
    labels: str | None = None  # top | parent: which folder is the class without --label-re (None: the workload's)
    split: str = "auto"  # auto | random | folders | folders:VALID
    drop_small_classes: bool = False
    arch: str | None = None  # overrides the scale's default architecture
    deep_arch: str | None = None  # overrides the scale's deeper architecture (arch_role="deep" recipes)
    weights: str = "auto"  # auto: the workload's default; none; imagenet; a source name; a file path
    recipe_options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: cuDNN's deterministic algorithms and torch.use_deterministic_algorithms (slower on a GPU); off by
    #: default, as in the chapter. Seeds make a CPU run repeat exactly either way.
    deterministic: bool = False
    #: On a CPU, whether recipes that ask for mixed precision (bf16 there) run: ``auto`` only where the CPU
    #: has native bfloat16 kernels, ``always``, or ``never``. On CUDA they always run (fp16).
    cpu_bf16: str = "auto"
    #: Skip the cases of this configuration already finished in --results-dir (an interrupted suite).
    resume: bool = False
    reference: str | None = None  # the recipe the session table ranks the others against (None: baseline)
    target_error: float | None = None  # time-to-target's target (None: the reference's mean final error)
    metric: str | None = None  # the registered metric the table ranks by, times to and gates on (None: error_rate)
    #: Where the cases train (:data:`EXECUTORS`; :mod:`recipebench.suite.executor`).
    executor: str = "local"
    #: Ray on CPUs: how many cases train at once on one node (each with the node's CPUs / this many).
    cases_per_node: int = 1
    #: Registered evaluations run on every case's final weights (and each outcome's) besides the plain
    #: validation, e.g. ("tta",); none by default, so the default suite's time does not grow.
    evaluations: tuple[str, ...] = ()
    #: --output NAME: outputs written at the end besides the default ones; ``no:NAME`` leaves a default out
    #: (:mod:`recipebench.suite.outputs`).
    outputs: tuple[str, ...] = ()
    output_options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # --output-option NAME.KEY=VALUE

    def __post_init__(self) -> None:
        if self.scale is not None and self.scale not in SCALE_NAMES:
            raise UsageError(f"--scale {self.scale!r}: choose one of {', '.join(SCALE_NAMES)}")
        if self.device not in DEVICES:
            raise UsageError(f"--device {self.device!r}: choose one of {', '.join(DEVICES)}")
        if self.plugins_dir is not None and not Path(self.plugins_dir).is_dir():
            raise UsageError(f"--plugins-dir {self.plugins_dir}: not a directory")
        if self.data_dir is not None and not Path(self.data_dir).is_dir():
            raise UsageError(f"--data-dir {self.data_dir}: not a directory")
        if Path(self.results_dir).exists() and not Path(self.results_dir).is_dir():
            raise UsageError(f"--results-dir {self.results_dir}: exists and is not a directory")
        if self.cpu_bf16 not in CPU_BF16:
            raise UsageError(f"--cpu-bf16 {self.cpu_bf16!r}: choose one of {', '.join(CPU_BF16)}")
        if self.labels is not None and self.labels not in LABEL_FOLDERS:
            raise UsageError(f"--labels {self.labels!r}: choose one of {', '.join(LABEL_FOLDERS)}")
        if self.labels is not None and self.label_re is not None:
            raise UsageError(f"--labels {self.labels} and --label-re: choose one (--label-re labels by file name, "
                             "--labels by folder)")
        if self.executor not in EXECUTORS[:3] and not (self.executor.startswith("ray://") and self.executor[6:]):
            raise UsageError(f"--executor {self.executor!r}: choose one of {', '.join(EXECUTORS)}")
        if self.cases_per_node < 1:
            raise UsageError(f"--cases-per-node {self.cases_per_node}: need at least 1")
        mode, colon, valid = self.split.partition(":")
        if mode not in SPLITS or (colon and (mode != "folders" or not valid or "/" in valid)):
            raise UsageError(f"--split {self.split!r}: choose auto, random, folders or folders:NAME (NAME: the "
                             "validation folder beside train/, e.g. folders:test)")
        if self.label_re is not None:
            import re

            try:
                pattern = re.compile(self.label_re)
            except re.error as exc:
                raise UsageError(f"--label-re {self.label_re!r}: not a regular expression ({exc})") from None
            if pattern.groups != 1:
                raise UsageError(f"--label-re {self.label_re!r}: needs exactly one group (the label), has {pattern.groups}")


#: (flag, dest, help, type-parser) for every field of :class:`Options`, in its order; pytest and argparse both
#: make their flags from :data:`OPTION_TABLE`.
_FLAGS_OF_OPTIONS: tuple[tuple[str, str, str, Callable[[str], Any] | None], ...] = (
    ("--workload", "workload", "workload to train on (default: synthetic; recipebench list shows them all)", str),
    ("--scale", "scale", "smoke | quick | full (default: quick on CPU, full on CUDA)", str),
    ("--seeds", "seeds", "number of seeds (3 -> 0,1,2) or a list (0,5,7); default 1", parse_seeds),
    ("--recipe", "recipes", "run only this recipe (repeatable; default: all of --suite)", str),
    ("--suite", "suite", "chapter | next_chapter | all: without --recipe, the recipes of this suite (default "
     "chapter, the pet-breeds chapter's)", str),
    ("--device", "device", "auto | cpu | cuda (default auto)", str),
    ("--results-dir", "results_dir", "where result JSON documents go (default results/)", Path),
    ("--plugins-dir", "plugins_dir", "also load every *.py plugin in this folder", Path),
    ("--cache-dir", "cache_dir", "generated data and weights cache (default $RECIPEBENCH_CACHE or the user cache)",
     Path),
    ("--data-dir", "data_dir", "use this image folder (Pets layout) instead of the workload's own source", Path),
    ("--label-re", "label_re", "regex with one group giving the label from a file name", str),
    ("--labels", "labels", "without --label-re, the class of an image is its top-level folder (top, any depth below "
     "it; default) or its own folder (parent, fastai's parent_label)", str),
    ("--split", "split", "auto | random | folders | folders:NAME -- auto (default): a folder's own train/ + valid/ "
     "(or val/) split when it has one, else RandomSplitter(valid_pct=0.2, seed=42)", str),
    ("--drop-small-classes", "drop_small_classes", "leave out classes too small to train (fewer than "
     f"{MIN_CLASS_IMAGES} images, or none in training) instead of stopping", None),
    ("--arch", "arch", "architecture for ordinary recipes (default: the scale's)", str),
    ("--deep-arch", "deep_arch", "architecture for recipes that ask for the deeper one (default: the scale's)", str),
    ("--weights", "weights", "auto | none | imagenet[:VERSION] | a weight source | PATH to a state dict (default "
     "auto)", str),
    ("--recipe-option", "recipe_options", "RECIPE.KEY=VALUE, a recipe's option (repeatable)", str),
    ("--deterministic", "deterministic", "deterministic cuDNN and torch algorithms: repeatable GPU runs, slower "
     "(default off, as in the chapter; CPU runs repeat exactly either way)", None),
    ("--cpu-bf16", "cpu_bf16", "auto | always | never: on a CPU, run the mixed-precision (bf16) recipes only where "
     "the CPU has native bfloat16 kernels (auto, the default; elsewhere bf16 is about 20x slower), always, or never",
     str),
    ("--resume", "resume", "skip the cases already finished with this configuration in --results-dir (after an "
     "interrupted suite); the session continues in that session's folder", None),
    ("--reference", "reference", "the recipe (or RECIPE > OUTCOME) the table ranks every row against "
     "(default: baseline)", str),
    ("--target-error", "target_error", "time to target: epochs and wall s until the validation error_rate first "
     "reaches this (default: the reference's mean final error_rate)", parse_target_error),
    ("--metric", "metric", "the metric the ranking, time to target and the verdicts use: a registered one "
     "(default error_rate, the chapter's; recipebench list shows them all)", str),
    ("--executor", "executor", "local | ray | auto | ray://HOST:PORT -- where the cases train: here one after "
     "another (local, the default), or as Ray tasks on a local Ray instance (ray), on this machine's cluster (auto) "
     "or on the cluster at an address (needs pip install -e '.[ray]')", str),
    ("--cases-per-node", "cases_per_node", "with --executor ray on CPUs: cases that train at once on one node, each "
     "with its share of the node's CPUs (default 1: one case at a time using all of them; more distort each other's "
     "timings, and the results say so)", _positive_int),
    ("--evaluate", "evaluations", "also evaluate every case's final weights (and each outcome's) this way, timed apart "
     "from the training, as a row RECIPE > NAME: tta (test-time augmentation) or another registered evaluation "
     "(repeatable; default none)", str),
    ("--output", "outputs", "also write this output at the end (repeatable; recipebench list shows them: e.g. "
     "summary.csv, mlflow, tensorboard); no:NAME leaves out a default one (summary.md, epochs.png)", str),
    ("--output-option", "output_options", "OUTPUT.KEY=VALUE, an output's option (repeatable), e.g. "
     "mlflow.tracking_uri=sqlite:///mlflow.db", str),
)


def _default(dest: str) -> Any:
    """The default of the option ``dest``: its :class:`Options` field's (the one definition of it)."""
    f = Options.__dataclass_fields__[dest]
    return f.default_factory() if f.default is MISSING else f.default


#: (flag, dest, help, type-parser, default) for every option, the defaults those of :class:`Options`.
OPTION_TABLE: tuple[tuple[str, str, str, Callable[[str], Any] | None, Any], ...] = tuple(
    (flag, dest, help_text, parse, _default(dest)) for flag, dest, help_text, parse in _FLAGS_OF_OPTIONS)
#: The options that only shape the session table: `recipebench table` takes them too.
TABLE_OPTIONS = ("reference", "target_error", "metric")
REPEATABLE = ("recipes", "recipe_options", "evaluations", "outputs", "output_options")
#: Options that take no value: present or not.
FLAGS = ("drop_small_classes", "deterministic", "resume")


def from_values(values: Mapping[str, Any]) -> Options:
    """Options from parsed flag values (missing or None values take the defaults)."""
    kw: dict[str, Any] = {}
    for _flag, dest, _help, parse, _default in OPTION_TABLE:
        value = values.get(dest)
        if dest in REPEATABLE:
            value = tuple(value or ())
            parse_items = {"recipe_options": parse_recipe_options, "output_options": parse_output_options}.get(dest)
            kw[dest] = parse_items(value) if parse_items else value
            continue
        if value is None:
            continue  # the default: the Options field's
        kw[dest] = parse(value) if parse is not None and isinstance(value, str) else value
    return Options(**kw)
