"""Where a suite's cases train: here, one after another (``--executor local``, the default), or as Ray
tasks (``--executor ray`` starts a local Ray instance; ``auto`` joins the cluster this machine belongs to;
``ray://HOST:PORT`` one at an address): one machine, a cluster made with ``ray start``, Kubernetes or Slurm.

One small interface for both (:class:`LocalExecutor`, :class:`RayExecutor`): :meth:`submit` the cases once
the session knows them, :meth:`case` gives a case's test what it needs, :meth:`close` ends the suite
(results that finished but were not taken yet are returned, the rest cancelled). pytest stays the front
end either way (selection, reporting, exit status) and the driver -- the pytest process -- alone writes
results, tables and plots.

A Ray task (:func:`train_remotely`) does for one case what the local executor does, on its node: it makes
the node's share of the session (:class:`~recipebench.suite.session.BenchSession` under the driver's session id),
the data and weights ready in the node's own cache, warms up (untimed), then seeds, prepares and trains
exactly as ``BenchSession.prepare(...).execute()`` does, with as many torch threads as CPUs it reserved,
and sends back the result document (``RunResult.to_dict()``), which the driver validates like a file.
Only this module imports ray, and only when a Ray executor is asked for.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from recipebench.record import store
from recipebench.record.environment import is_cuda
from recipebench.suite.options import Options, UsageError
from recipebench.record.results import RunResult
from recipebench.train.runner import lost_result

#: How the results name the executor that ran them (``environment.executor.kind``).
RAY = "ray"


@dataclass(frozen=True)
class Resources:
    """What each case reserves on the node that trains it; it trains with ``cpus`` torch threads."""

    cpus: int
    gpus: int  # 1 on CUDA, 0 on CPUs


class LocalExecutor:
    """Today's behaviour: each case is prepared when its test starts and trains in this process."""

    name = "local"
    trains_here = True

    def submit(self, session, cases) -> None:
        """Nothing to do ahead: each case is prepared when its test runs."""

    def case(self, session, recipe: str, seed: int, progress=None):
        """The case prepared here (a :class:`~recipebench.train.runner.PreparedRun`), ready to train;
        ``progress`` (the live display) follows it."""
        return session.prepare(recipe, seed, progress)

    def close(self, session) -> list[RunResult]:
        return []


def make_executor(options: Options, say: Callable[[str], None] | None = None):
    """The executor ``--executor`` asks for; a usage error naming the install when that needs ray and
    ray is not installed."""
    if options.executor == "local":
        return LocalExecutor()
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UsageError(f"--executor {options.executor}: ray is not installed in this environment; install it "
                         "with pip install -e '.[ray]' (or use --executor local)") from None
    return RayExecutor(options, say)


class RayExecutor:
    """The cases as Ray tasks, one task per case, submitted together once the session knows them."""

    name = RAY
    trains_here = False

    def __init__(self, options: Options, say: Callable[[str], None] | None = None) -> None:
        self.options, self.say = options, say
        self.address = None if options.executor == "ray" else options.executor  # None: start a local instance
        self.cases: dict[tuple[str, int], RemoteCase] = {}
        self.resources: Resources | None = None
        self.start_s: float | None = None  # seconds ray.init took

    def submit(self, session, cases) -> None:
        """Connect (or start a local Ray instance) and submit every case, in the session's order."""
        if not cases:  # all skipped (--resume, no native bf16): no cluster needed
            return
        import ray

        t0 = time.perf_counter()
        try:  # a local instance without Ray's dashboard (it starts faster); a cluster keeps its own settings
            where = {"address": self.address} if self.address else {"include_dashboard": False}
            ray.init(log_to_driver=False, **where)  # the workers' output stays in Ray's logs
        except (ConnectionError, RuntimeError, ValueError) as exc:
            cause = f": {type(exc.__cause__).__name__}: {str(exc.__cause__).split('. ')[0]}" if exc.__cause__ else ""
            raise UsageError(f"--executor {self.options.executor}: cannot reach a Ray cluster ({exc}{cause}); start "
                             "one with `ray start --head` (a cluster with token authentication needs its token "
                             "here: RAY_AUTH_MODE=token and ~/.ray/auth_token or RAY_AUTH_TOKEN), or use --executor "
                             "ray for a local instance") from None
        self.start_s = time.perf_counter() - t0
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        self.resources = resources_per_case(nodes, session.device, self.options.cases_per_node,
                                            self.options.executor)
        ledger = ray.remote(num_cpus=0)(Ledger).remote()
        task = ray.remote(train_remotely)
        options = worker_options(self.options, session)
        for recipe, seed in cases:
            ref = task.options(num_cpus=self.resources.cpus, num_gpus=self.resources.gpus, max_retries=0,
                               name=f"recipebench:{recipe}-seed{seed}").remote(
                options, session.session_id, recipe, seed, self.resources, ledger)
            self.cases[(recipe, seed)] = RemoteCase(session, recipe, seed, ref, ledger)
        if self.say is not None:
            self.say(self.describe(nodes, len(cases)))

    def describe(self, nodes: list[Mapping[str, Any]], n_cases: int) -> str:
        import ray

        r = self.resources
        total = {k: sum(int(n["Resources"].get(k, 0)) for n in nodes) for k in ("CPU", "GPU")}
        where = self.address or "a local Ray instance"
        each = f"1 GPU and {r.cpus} CPU(s)" if r.gpus else f"{r.cpus} CPU(s)"
        line = (f"{n_cases} case(s) submitted to {where} (ray {ray.__version__}, ready in {self.start_s:.1f} s): "
                f"{len(nodes)} node(s), {total['CPU']} CPUs, {total['GPU']} GPUs; each case takes {each} and trains "
                f"with {r.cpus} torch thread(s)")
        if not r.gpus and self.options.cases_per_node > 1:
            line += (f"; --cases-per-node {self.options.cases_per_node}: cases training at once on a node distort "
                     "each other's timings (each result records it)")
        return line

    def case(self, session, recipe: str, seed: int, progress=None) -> RemoteCase:
        """The case's task (the live display follows it once its result arrives: it trains elsewhere)."""
        return self.cases[(recipe, seed)]

    def close(self, session) -> list[RunResult]:
        """Results of cases that finished but were not taken (an interrupted suite, ``-x``); the cases still
        running or waiting are cancelled. Then Ray is left (a local instance stops)."""
        import ray

        if not ray.is_initialized():
            return []
        finished = []
        try:
            for case in self.cases.values():
                if case.taken:
                    continue
                if case.done():
                    finished.append(case.result())
                else:
                    case.cancel()
        finally:
            ray.shutdown()
        return finished


def worker_options(options: Options, session) -> Options:
    """The options a worker's share of the session runs with: the driver's, training here (local) on the
    device and at the scale the driver chose, its folders as absolute paths (a node's working folder is
    not the driver's)."""
    def absolute(path):
        return None if path is None else Path(path).expanduser().resolve()

    return dataclasses.replace(options, executor="local", device=session.device.type, scale=session.scale.name,
                               plugins_dir=absolute(options.plugins_dir), data_dir=absolute(options.data_dir),
                               cache_dir=absolute(options.cache_dir))


def resources_per_case(nodes: list[Mapping[str, Any]], device, cases_per_node: int, executor: str) -> Resources:
    """One GPU per case on CUDA (with the CPUs of a GPU's share of its node); on CPUs, a node's CPUs divided by
    ``cases_per_node`` (of the smallest node, when they differ): by default one case at a time per node."""
    counts = [n["Resources"] for n in nodes]
    if is_cuda(device):
        gpu_nodes = [r for r in counts if r.get("GPU", 0) >= 1]
        if not gpu_nodes:
            raise UsageError(f"--executor {executor}: this session trains on CUDA, and the Ray cluster has no GPU; "
                             "add GPU nodes or pass --device cpu")
        return Resources(cpus=max(1, min(int(r.get("CPU", 1) // r["GPU"]) for r in gpu_nodes)), gpus=1)
    cpu_counts = [int(r["CPU"]) for r in counts if r.get("CPU", 0) >= 1]
    if not cpu_counts:
        raise UsageError(f"--executor {executor}: the Ray cluster has no node with a CPU to train on")
    return Resources(cpus=max(1, min(cpu_counts) // cases_per_node), gpus=0)


class Ledger:
    """A Ray actor (one per session): where each case started, as its worker said before training, so that
    a case whose worker dies is recorded with the node and process it died on."""

    def __init__(self) -> None:
        self.started: dict[tuple[str, int], dict[str, Any]] = {}

    def start(self, recipe: str, seed: int, started: dict[str, Any]) -> None:
        self.started[(recipe, seed)] = started

    def get(self, recipe: str, seed: int) -> dict[str, Any] | None:
        return self.started.get((recipe, seed))


class RemoteCase:
    """One case submitted as a Ray task. :meth:`result` waits for it; what it returns is the run's result
    document as the worker made it, or, where the task raised or its worker died, a result with status
    "error" saying so and naming the node (not retried)."""

    def __init__(self, session, recipe: str, seed: int, ref, ledger) -> None:
        self.session, self.recipe, self.seed, self.ref, self.ledger = session, recipe, seed, ref, ledger
        self.taken = False
        self.measured = False  # whether the worker sent its result (with the wall_s it measured)

    def done(self) -> bool:
        import ray

        ready, _ = ray.wait([self.ref], timeout=0)
        return bool(ready)

    def cancel(self) -> None:
        import ray

        ray.cancel(self.ref, force=True)

    def result(self) -> RunResult:
        """The case's result, waiting for its task to end (that wait is not the run's time: the result's
        ``wall_s`` is, as the worker measured it)."""
        import ray

        self.taken = True
        try:
            doc = ray.get(self.ref)
            result = store.from_document(doc, f"the Ray task of {self.recipe} seed {self.seed}")
            self.measured = True
            return result
        except store.ResultsError as exc:
            return self.lost(lambda node, why=str(exc): f"{why} (from {node})")
        except ray.exceptions.RayTaskError as exc:  # the task raised: setting up on its node, say
            return self.lost(lambda node, why=str(exc): f"the Ray task raised on {node}:\n{why}")
        except ray.exceptions.RayError as exc:  # the worker process or its node died: killed, out of memory
            why = f"{type(exc).__name__}: {exc}"
            return self.lost(lambda node: f"the Ray worker on {node} died while training this case (killed, out "
                                          f"of memory, or crashed); not retried. Ray: {why}")

    def lost(self, error: Callable[[str], str]) -> RunResult:
        """The case's result when its task made none: ``error(node)`` says why, ``node`` where it ran."""
        import ray

        started = None
        try:
            started = ray.get(self.ledger.get.remote(self.recipe, self.seed), timeout=30)
        except ray.exceptions.RayError:
            pass  # the ledger is gone with its node: the node stays unnamed
        plan = self.session.plan(self.recipe, self.seed)
        if started is None:
            text = error("a node it had not named yet (it failed before reporting)")
            where = {**self.session.code_state, "executor": {"kind": RAY, "node": "unknown"}}
            return lost_result(plan, text, "unknown (not reported)", self.session.versions, where)
        node = started["environment"]["executor"]
        text = error(f"{node['host']} ({node['node_ip']}), worker pid {node['pid']}")
        return lost_result(plan, text, started["device_name"], started["versions"], started["environment"])


def train_remotely(options: Options, session_id: str, recipe: str, seed: int, resources: Resources,
                   ledger) -> dict[str, Any]:
    """A Ray task: one case trained on this node as the local executor trains it; returns its result
    document. Before anything slow it tells ``ledger`` where it runs, so a worker that dies is named.
    It never waits for Ray (``ray.get``) itself: Ray lends a waiting task's CPUs to the next one."""
    import ray
    import torch

    from recipebench.record.environment import device_name, environment
    from recipebench.suite.session import BenchSession

    torch.set_num_threads(resources.cpus)  # Ray set OMP_NUM_THREADS to the CPUs reserved; say it to torch too
    session = BenchSession(options, session_id=session_id)
    node = {**node_record(ray, resources), "cases_per_node": options.cases_per_node}  # part of a case's identity
    # Sent, not awaited: a task blocked in ray.get lends its CPUs to the next task, which would then train
    # beside this one. The data, weights and warm-up take seconds, time enough for it to arrive.
    ledger.start.remote(recipe, seed, {
        "device_name": device_name(session.device), "versions": dict(session.versions),
        "environment": {**environment(session.device, session.code_state), "executor": node}})
    t0 = time.perf_counter()
    session.check_setup([recipe])  # the data and weights in this node's cache; the warm-up, untimed
    node["setup_s"] = round(time.perf_counter() - t0, 2)  # what the task spent on that before preparing the run
    result = session.prepare(recipe, seed).execute()
    return dataclasses.replace(result, environment={**result.environment, "executor": node}).to_dict()


def node_record(ray, resources: Resources) -> dict[str, Any]:
    """Where this task runs, as its result records it (``environment.executor``)."""
    import torch

    node_id = ray.get_runtime_context().get_node_id()
    total = next((n["Resources"] for n in ray.nodes() if n.get("NodeID") == node_id), {})
    node_cpus = int(total.get("CPU", 0))
    at_once = int(total.get("GPU", 0)) if resources.gpus else max(node_cpus // max(resources.cpus, 1), 1)
    return {"kind": RAY, "ray": ray.__version__, "node_id": node_id, "node_ip": ray.util.get_node_ip_address(),
            "host": socket.gethostname(), "pid": os.getpid(), "cpus": resources.cpus, "gpus": resources.gpus,
            "node_cpus": node_cpus, "cases_at_once_max": at_once, "torch_threads": torch.get_num_threads()}
