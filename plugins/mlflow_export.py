"""The MLflow output: every result as MLflow runs, in a local store by default (no server).

One parent run per row of the session table (a recipe, or one of its sub-results) in each session, with a
nested run per seed. A seed's run holds the params (config, recipe options), tags (versions, device, commit,
session), the per-epoch figures as ``epoch.NAME`` with the epoch as step and the epoch clock (``elapsed_s``)
as their time, the per-batch training losses as ``batch.train_loss``, and the final figures (``error_rate``,
``wall_s``, ``samples_per_s``, ``peak_memory_bytes``, ...). The parent holds ``NAME.mean`` and ``NAME.sd``
over its seed runs that finished (read back from the store), the session table of its session's results (``summary.md``)
and their epochs chart (``epochs.png``), written again when an export holds every seed it has.

Exporting again adds nothing already there: each seed's run carries the result's ``run_id`` (and the
document's ``created_utc``) as tags, and a parent its session and row; a case trained again (``--resume``)
gets a new run and the earlier one is tagged ``recipebench.superseded``.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

from recipebench import Option, Output, SessionOutput, hookimpl
from recipebench.plugins.tracker_runs import TrackedRun, created_s, epoch_figures, figures, params, tags, tracked_runs

INSTALL = "pip install 'recipebench[mlflow]' (mlflow-skinny)"
#: The store when --tracking-uri is not given: this folder beside the results folder.
DEFAULT_STORE = "mlruns"
TAG_KEY = "recipebench.run_id"  # a seed's run: TrackedRun.key (run_id, and /OUTCOME for a sub-result)
TAG_CREATED = "recipebench.created_utc"  # a seed's run: its document's created_utc
TAG_GROUP = "recipebench.group"  # a parent run: SESSION/LABEL
TAG_SUPERSEDED = "recipebench.superseded"  # a seed's run whose case was trained again: the later document's time
#: The prefixes of the metrics logged per epoch and per batch (the others are a run's final figures).
SERIES = ("epoch.", "batch.")
#: MLflow's limits on one log_batch call.
MAX_METRICS, MAX_PARAMS, MAX_TAGS = 1000, 100, 100


def tracking_uri(session: SessionOutput) -> str:
    return str(session.options["tracking_uri"]) or (session.beside / DEFAULT_STORE).resolve().as_uri()


@contextlib.contextmanager
def _file_store_allowed(uri: str):
    """MLflow 3 keeps its folder store (``file:``) behind ``MLFLOW_ALLOW_FILE_STORE``; mlflow-skinny has no
    other local store (sqlite needs the full mlflow). Set for the export only, then as it was."""
    if not uri.startswith("file:"):
        yield
        return
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if before is None:
            del os.environ["MLFLOW_ALLOW_FILE_STORE"]
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = before


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _log(client, run_id: str, metrics=(), params=None, tags=None) -> None:
    """log_batch within MLflow's limits per call."""
    from mlflow.entities import Param, RunTag

    metrics = list(metrics)
    params = [Param(k, v) for k, v in (params or {}).items()]
    tags = [RunTag(k, v) for k, v in (tags or {}).items()]
    while metrics or params or tags:
        client.log_batch(run_id, metrics=metrics[:MAX_METRICS], params=params[:MAX_PARAMS], tags=tags[:MAX_TAGS])
        metrics, params, tags = metrics[MAX_METRICS:], params[MAX_PARAMS:], tags[MAX_TAGS:]


def _seed_metrics(run: TrackedRun):
    from mlflow.entities import Metric

    start, out = run.start_s, []
    step = 0
    for e in run.row.epochs:
        at = _ms(start + e.elapsed_s) if e.elapsed_s is not None else _ms(created_s(run.result))
        out += [Metric(f"{SERIES[0]}{k}", v, at, e.epoch) for k, v in epoch_figures(e).items()]
        for loss in e.batch_losses:
            out.append(Metric(f"{SERIES[1]}train_loss", loss, at, step))
            step += 1
    end = _ms(created_s(run.result))
    return out + [Metric(k, v, end, 0) for k, v in figures(run).items()]


def _existing(client, experiment_id: str) -> tuple[dict, dict, dict]:
    """The experiment's recipebench runs: seeds by (key, created), seed run ids by key, parents by group."""
    seeds, by_key, parents, token = {}, {}, {}, None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        for r in page:
            t = r.data.tags
            if TAG_GROUP in t:
                parents[t[TAG_GROUP]] = r.info.run_id
            elif TAG_KEY in t:
                seeds[(t[TAG_KEY], t.get(TAG_CREATED))] = r.info.run_id
                by_key.setdefault(t[TAG_KEY], []).append((r.info.run_id, t.get(TAG_CREATED) or ""))
        token = page.token
        if not token:
            return seeds, by_key, parents


def _aggregates(client, experiment_id: str, parent: str):
    """Each final figure's mean and sample sd (n - 1) over the parent's current seed runs that finished, as the
    store holds them (so exporting one file of a session later still averages over every seed exported), and
    how many finished and failed; and how many current seed runs it has."""
    from mlflow.entities import Metric

    children = client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'",
                                  max_results=10000)
    current = [c for c in children if TAG_SUPERSEDED not in c.data.tags]
    ok = [{k: v for k, v in c.data.metrics.items() if not k.startswith(SERIES)}
          for c in current if c.info.status == "FINISHED"]
    now = _ms(time.time())
    out = [Metric("seeds", len(ok), now, 0), Metric("seeds_failed", len(current) - len(ok), now, 0)]
    for key in dict.fromkeys(k for f in ok for k in f):
        values = [f[key] for f in ok if key in f]
        out.append(Metric(f"{key}.mean", statistics.fmean(values), now, 0))
        if len(values) > 1:
            out.append(Metric(f"{key}.sd", statistics.stdev(values), now, 0))
    return out, len(current)


def export(session: SessionOutput) -> list[str]:
    from mlflow import MlflowClient

    uri = tracking_uri(session)
    groups: dict[str, list[TrackedRun]] = {}
    for run in tracked_runs(session.results):
        groups.setdefault(run.group, []).append(run)
    with _file_store_allowed(uri), tempfile.TemporaryDirectory(prefix="recipebench-mlflow-") as tmp:
        client = MlflowClient(tracking_uri=uri)
        name = str(session.options["experiment"])
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found else client.create_experiment(name)
        seeds, by_key, parents = _existing(client, experiment_id)
        sessions: dict[str, list] = {}
        for result in session.results:
            sessions.setdefault(result.session_id, []).append(result)
        charts: dict[str, Path] = {}
        added = 0
        for group, runs in groups.items():
            new = [r for r in runs if (r.key, r.result.created_utc) not in seeds]
            parent = parents.get(group)
            if parent is not None and not new:
                continue
            first = runs[0]
            made = parent is None
            if made:
                shared = dict(set.intersection(*(set(params(r.result).items()) for r in runs)))
                shared.pop("seed", None)
                parent = client.create_run(experiment_id, start_time=_ms(min(r.start_s for r in runs)),
                                           run_name=first.row.label,
                                           tags={TAG_GROUP: group, "label": first.row.label,
                                                 "session_id": first.result.session_id}).info.run_id
                _log(client, parent, params=shared,
                     tags={k: v for k, v in tags(first.result).items() if k not in ("status", "host")})
            for run in new:
                commit = run.result.environment.get("git_commit")
                child = client.create_run(experiment_id, start_time=_ms(run.start_s),
                                          run_name=f"{run.row.label} seed {run.row.seed}",
                                          tags={"mlflow.parentRunId": parent, TAG_KEY: run.key,
                                                TAG_CREATED: run.result.created_utc, "label": run.row.label,
                                                **({"mlflow.source.git.commit": commit} if commit else {})}
                                          ).info.run_id
                _log(client, child, _seed_metrics(run), params(run.result), tags(run.result))
                client.set_terminated(child, "FINISHED" if run.row.status == "ok" else "FAILED",
                                      end_time=_ms(created_s(run.result)))
                created = run.result.created_utc
                for other, other_created in by_key.get(run.key, ()):  # the same case, another attempt
                    older, newer = (other, created) if other_created < created else (child, other_created)
                    client.set_tag(older, TAG_SUPERSEDED, newer)
                added += 1
            aggregates, n_current = _aggregates(client, experiment_id, parent)
            _log(client, parent, aggregates)
            if made or len(runs) >= n_current:  # not when this export holds only some of its seeds (one file)
                mine = sessions[first.result.session_id]
                client.log_text(parent, session.table("markdown", mine) + "\n", "summary.md")
                if first.result.session_id not in charts:
                    folder = Path(tmp) / str(len(charts))
                    folder.mkdir()
                    charts[first.result.session_id] = session.plot_epochs(folder / "epochs.png", mine)
                client.log_artifact(parent, str(charts[first.result.session_id]))
            client.set_terminated(parent, "FINISHED", end_time=_ms(max(created_s(r.result) for r in runs)))
    session.say(f"mlflow: {added} seed run(s) added to experiment {name!r} at {uri}"
                + ("" if added else " (every result was there already)"))
    return [uri]


@hookimpl
def recipebench_add_outputs(register):
    register(Output("mlflow", "every result as MLflow runs: a parent per recipe, its seeds nested", export,
                    options={"tracking_uri": Option("", help=f"where the runs go, any MLflow tracking URI (default: "
                                                             f"the folder store {DEFAULT_STORE}/ beside the results "
                                                             "folder)"),
                             "experiment": Option("recipebench", help="the MLflow experiment (made if missing)")},
                    requires={"mlflow": INSTALL}))
