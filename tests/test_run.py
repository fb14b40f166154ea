"""One real run at smoke scale: what the harness records, and that it is true."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from recipebench.record import store
from recipebench.record.results import SCHEMA_VERSION, RunResult, validate


def test_result_follows_the_schema_and_round_trips(baseline_result):
    doc = baseline_result.to_dict()
    validate(doc)
    assert RunResult.from_dict(json.loads(json.dumps(doc))) == baseline_result


def test_baseline_records_the_chapter_structure(baseline_result):
    r = baseline_result
    assert r.ok and r.error is None
    assert [e.phase for e in r.epochs] == ["frozen", "unfrozen"]  # smoke caps fine_tune(2) at 1 epoch
    assert [e.fit for e in r.epochs] == [1, 2]
    assert [(c.method, c.args) for c in r.calls] == [("fine_tune", (1,))]
    assert all(e.error_rate is not None and 0 <= e.error_rate <= 1 for e in r.epochs)
    assert all(e.train_samples == r.n_train - r.n_train % r.config.batch_size for e in r.epochs)


def test_headline_figures_are_measured(baseline_result):
    r = baseline_result
    assert r.wall_s > 0 and r.wall_s >= sum(e.wall_s for e in r.epochs) * 0.9
    assert r.samples_per_s > 0
    assert r.peak_memory_bytes and r.peak_memory_bytes == r.peak_rss_bytes and r.peak_memory_bytes > 100 * 2**20
    assert r.cuda_max_allocated_bytes is None
    assert 0 <= r.error_rate <= 1
    assert r.best_error_rate == min(e.error_rate for e in r.epochs)
    assert r.epochs[r.best_epoch - 1].error_rate == r.best_error_rate


def test_context_is_true(baseline_result, smoke_session):
    r = baseline_result
    assert (r.device, r.precision, r.precision_requested) == ("cpu", "fp32", "fp32")
    assert r.weights.source == "synthetic-source" and r.weights.arch == "resnet18"
    assert r.weights.detail["source_classes"] == 8
    assert r.config.arch == "resnet18" and (r.config.presize, r.config.image_size) == (48, 32)
    assert r.workload_fingerprint == smoke_session.data().fingerprint
    for key in ("python", "torch", "torchvision", "fastai", "cuda"):
        assert key in r.versions
    assert r.versions["torch"] and r.versions["fastai"]
    assert "git_commit" in r.environment
    assert r.n_classes == 6 and r.n_train + r.n_valid == 72


def test_most_confused_is_fastais(baseline_result):
    pairs = baseline_result.most_confused
    assert pairs, "a smoke model confuses something"
    assert all(p.actual != p.predicted and p.count >= 1 for p in pairs)
    assert [p.count for p in pairs] == sorted((p.count for p in pairs), reverse=True)


def test_same_seed_same_numbers(smoke_session, baseline_result):
    again = smoke_session.prepare("baseline", 0).execute()
    assert [e.error_rate for e in again.epochs] == [e.error_rate for e in baseline_result.epochs]
    assert [e.train_loss for e in again.epochs] == pytest.approx([e.train_loss for e in baseline_result.epochs])


def _head_and_split(session, seed):
    run = session.prepare("baseline", seed)
    try:
        head = run.learn.model[1][-1].weight.detach().clone()
        return head, [p.name for p in run.dls.valid_ds.items]
    finally:
        run.close()


def test_a_seed_varies_the_head_but_never_the_split(smoke_session):
    """The seed protocol: set_seed, DataLoaders (RandomSplitter(seed=42) re-seeds torch), set_seed again,
    Learner. Without the second set_seed every seed started the head from the same weights."""
    head0, split0 = _head_and_split(smoke_session, 0)
    head0_again, split0_again = _head_and_split(smoke_session, 0)
    head1, split1 = _head_and_split(smoke_session, 1)
    assert torch.equal(head0, head0_again)
    assert not torch.equal(head0, head1)
    assert split0 == split0_again == split1


def test_writing_never_overwrites(baseline_result, tmp_path):
    """A case written again is the current document; the earlier one is kept in attempts/ (issue 20)."""
    first = store.write_result(baseline_result, tmp_path)
    before = first.read_text()
    second = store.write_result(baseline_result, tmp_path)
    assert first == second == tmp_path / "baseline-seed0.json"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json")) == \
        ["attempts/baseline-seed0.json", "baseline-seed0.json"]
    assert (tmp_path / "attempts" / "baseline-seed0.json").read_text() == before
    assert store.load_results([tmp_path]) == [baseline_result]


def test_an_invalid_result_is_not_written(baseline_result, tmp_path):
    bad = dataclasses.replace(baseline_result, error_rate=1.5)
    with pytest.raises(Exception, match="1.5"):
        store.write_result(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_loading_names_the_bad_file(tmp_path):
    (tmp_path / "junk.json").write_text('{"schema_version": 1, "recipe": "x"}')
    with pytest.raises(store.ResultsError, match="junk.json: not a valid recipebench result"):
        store.load_results([tmp_path])
    with pytest.raises(store.ResultsError, match="no such file"):
        store.load_results([tmp_path / "nope"])


def test_the_table_summarises_seeds_and_shows_outcomes(baseline_result):
    from recipebench.render import session_table as render
    from recipebench.record.results import Outcome

    other = dataclasses.replace(baseline_result, seed=1, error_rate=0.5, wall_s=baseline_result.wall_s * 2,
                                final_metrics={**baseline_result.final_metrics, "error_rate": 0.5})
    arm = Outcome("arm", 0.25, 0.25, 1, 1.0, 10.0, baseline_result.epochs[:1], final_metrics={"error_rate": 0.25})
    with_arm = dataclasses.replace(baseline_result, recipe="contrast", outcomes=(arm,))
    table = render.summary_table([baseline_result, other, with_arm])
    lines = table.splitlines()
    assert lines[0].split() == ["recipe", "error_rate", "best", "(epoch)", "valid_loss", "top_5_error", "wall", "s",
                                "img/s", "peak", "MB", "precision", "device", "arch"]  # a column per metric
    baseline_line = next(line for line in lines if line.startswith("baseline "))
    mean = (baseline_result.error_rate + 0.5) / 2
    assert f"{mean:.4f} ± " in baseline_line and "(n=2)" in baseline_line
    assert any(line.startswith("contrast > arm ") and "0.2500" in line for line in lines)


def test_the_markdown_report_keeps_its_context_lines_apart():
    """summary.md: each context and most-confused line is a list item (plain lines would run together)."""
    from recipebench.render import session_table as render
    from recipebench.record.results import ConfusedPair, WeightsInfo
    from tests.fake_results import make_result

    deep = make_result("deep", weights=WeightsInfo("synthetic-source", "resnet50", None, None),
                       most_confused=(ConfusedPair("a", "b", 3),))
    report = render.session_report([make_result(), deep], fmt="markdown")
    table, ranking, context, *_ = report.split("\n\n")
    assert table.startswith("| recipe") and ranking.startswith("| recipe")  # the session table, the ranking
    assert all(line.startswith("- ") for line in context.splitlines())
    assert any(line.startswith("- workload synthetic") for line in context.splitlines())
    assert "weights: synthetic-source (resnet18), synthetic-source (resnet50)" in report
    assert report.splitlines()[-1] == "- deep: a -> b (3)"
    assert not any(line.startswith("- ") for line in render.session_report([deep]).splitlines())


def test_a_version_1_document_without_rss_at_start_still_loads(baseline_result, tmp_path):
    """Results written before rss_at_start_bytes existed are read (field unknown), never refused."""
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(as_version(baseline_result, 1)))
    (loaded,) = store.load_results([tmp_path])
    assert loaded.schema_version == SCHEMA_VERSION and loaded.rss_at_start_bytes is None and loaded.divergence is None
    assert loaded.error_rate == baseline_result.error_rate
    current = baseline_result.to_dict()
    del current["rss_at_start_bytes"]  # a current document must still carry it
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(current))
    with pytest.raises(store.ResultsError, match="rss_at_start_bytes"):
        store.load_results([tmp_path])


def as_version(result, version: int) -> dict:
    """``result`` as schema ``version`` wrote it: before 9 without evaluations, before 8 without the metrics'
    specs and values, before 7 without the epochs' image_size and batch_size and config.loss_func and callbacks, before 6 without config.labels, before 5 without the epochs' elapsed_s and
    batch_losses, before 4 without config.split and dropped_classes, before 3 without divergence, before 2
    without rss_at_start_bytes."""
    doc = result.to_dict()
    if version < 9:
        del doc["evaluations"], doc["config"]["evaluations"]
    if version < 8:
        del doc["metrics"], doc["final_metrics"]
        for epoch in [*doc["epochs"], *(e for o in doc["outcomes"] for e in o["epochs"])]:
            del epoch["metrics"]
        for outcome in doc["outcomes"]:
            del outcome["final_metrics"]
    if version < 7:
        for epoch in [*doc["epochs"], *(e for o in doc["outcomes"] for e in o["epochs"])]:
            del epoch["image_size"], epoch["batch_size"]
        del doc["config"]["loss_func"], doc["config"]["callbacks"]
    if version < 6:
        del doc["config"]["labels"]
    if version < 5:
        for epoch in [*doc["epochs"], *(e for o in doc["outcomes"] for e in o["epochs"])]:
            del epoch["elapsed_s"], epoch["batch_losses"]
    if version < 4:
        del doc["config"]["split"], doc["dropped_classes"]
    if version < 3:
        del doc["divergence"]
    if version < 2:
        del doc["rss_at_start_bytes"]
    return {**doc, "schema_version": version}


def unclocked(result):
    """``result`` as a document from before schema 5 loads: epochs without elapsed_s or batch losses (nor
    image_size and batch_size, added by schema 7; and, as before schema 6, no labelling)."""
    def strip(epochs):
        return tuple(dataclasses.replace(e, elapsed_s=None, batch_losses=(), image_size=None, batch_size=None)
                     for e in epochs)

    base = unlabelled(result)
    return dataclasses.replace(base, epochs=strip(base.epochs),
                               outcomes=tuple(dataclasses.replace(o, epochs=strip(o.epochs)) for o in base.outcomes))


def unlabelled(result):
    """``result`` as a document from before schema 6 loads: how its classes were read is not known."""
    return dataclasses.replace(before_8(result), config=dataclasses.replace(result.config, labels=None))


def before_8(result):
    """``result`` as a document from before schema 8 loads: measured by error_rate and valid_loss alone (the
    final valid_loss not recorded)."""
    from recipebench.record.results import METRICS_BEFORE_8

    def strip(epochs):
        return tuple(dataclasses.replace(e, metrics={"error_rate": e.error_rate, "valid_loss": e.valid_loss})
                     for e in epochs)

    def count(error):  # the final error rates become exact counts over n_valid
        return None if error is None else round(error * result.n_valid) / result.n_valid

    return dataclasses.replace(
        result, metrics=METRICS_BEFORE_8, final_metrics={"error_rate": count(result.error_rate), "valid_loss": None},
        epochs=strip(result.epochs),
        outcomes=tuple(dataclasses.replace(o, epochs=strip(o.epochs),
                                           final_metrics={"error_rate": count(o.error_rate), "valid_loss": None})
                       for o in result.outcomes))


def test_a_version_5_document_loads_without_its_labelling(baseline_result, tmp_path):
    """Schema 6 added config.labels (how the classes were read): older documents say None, not a guess."""
    from recipebench.data.datablock import PETS_LABEL_RE

    assert baseline_result.config.labels == f"file names by {PETS_LABEL_RE!r}"  # the synthetic workload's
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(as_version(baseline_result, 5)))
    (loaded,) = store.load_results([tmp_path])
    assert loaded.schema_version == SCHEMA_VERSION and loaded == unsized(unlabelled(baseline_result))


def test_a_version_2_document_without_divergence_still_loads(baseline_result, tmp_path):
    """Schema 3 added the status "diverged" and its record; version 2 documents load with none."""
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(as_version(baseline_result, 2)))
    (loaded,) = store.load_results([tmp_path])
    assert loaded == unclocked(baseline_result)


def test_a_version_3_document_reads_as_the_random_split_with_every_class(baseline_result, tmp_path):
    """Results written before folders brought their own split: the chapter's random split, nothing dropped."""
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(as_version(baseline_result, 3)))
    (loaded,) = store.load_results([tmp_path])
    assert loaded.schema_version == SCHEMA_VERSION == 9
    assert loaded.config.split == "random(valid_pct=0.2, seed=42)" == baseline_result.config.split
    assert (loaded.config.valid_pct, loaded.config.split_seed, loaded.dropped_classes) == (0.2, 42, ())
    assert loaded == unclocked(baseline_result)


def test_a_version_4_document_without_elapsed_time_or_batch_losses_still_loads(baseline_result, tmp_path):
    """Schema 5 added each epoch's elapsed_s and batch_losses: older epochs load with None and ()."""
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(as_version(baseline_result, 4)))
    (loaded,) = store.load_results([tmp_path])
    assert loaded.schema_version == SCHEMA_VERSION and len(loaded.epochs) == len(baseline_result.epochs)
    assert all(e.elapsed_s is None and e.batch_losses == () for e in loaded.epochs)
    assert loaded == unclocked(baseline_result)
    current = baseline_result.to_dict()
    del current["epochs"][0]["batch_losses"]  # a version 5 document must carry them
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(current))
    with pytest.raises(store.ResultsError, match="batch_losses"):
        store.load_results([tmp_path])


def unsized(result, **cleared):
    """``result`` as a document from before schema 7 loads: epochs without image_size or batch_size (and
    ``cleared``, what older versions lacked too)."""
    def strip(epochs):
        return tuple(dataclasses.replace(e, image_size=None, batch_size=None, **cleared) for e in epochs)

    result = before_8(result)
    return dataclasses.replace(result, epochs=strip(result.epochs),
                               outcomes=tuple(dataclasses.replace(o, epochs=strip(o.epochs)) for o in result.outcomes))


def test_a_version_6_document_reads_as_the_dataloaders_default_loss_and_no_recipe_callbacks(baseline_result,
                                                                                            tmp_path):
    """Schema 7 added config.loss_func and config.callbacks (before it every Learner was built with the
    DataLoaders' default loss and no recipe callbacks) and each epoch's image_size and batch_size (unknown)."""
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(as_version(baseline_result, 6)))
    (loaded,) = store.load_results([tmp_path])
    assert loaded.schema_version == SCHEMA_VERSION == 9
    assert (loaded.config.loss_func, loaded.config.callbacks) == ("CrossEntropyLossFlat", ())
    assert (baseline_result.config.loss_func, baseline_result.config.callbacks) == ("CrossEntropyLossFlat", ())
    assert all(e.image_size is None and e.batch_size is None for e in loaded.epochs)
    assert [e.image_size for e in baseline_result.epochs] == [32, 32]
    assert loaded == unsized(baseline_result)
    current = baseline_result.to_dict()
    del current["config"]["loss_func"]  # a version 7 document must carry it
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(current))
    with pytest.raises(store.ResultsError, match="loss_func"):
        store.load_results([tmp_path])


def test_the_schema_id_names_its_version():
    from recipebench.record.results import schema

    assert schema()["$id"].endswith(f"/result-{SCHEMA_VERSION}.json")
    assert schema()["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


def test_the_committed_baseline_and_a_schema_1_document_still_load():
    """Documents written by earlier versions of the harness are read, never refused: the committed baseline,
    and tests/data/result-schema1.json, a document of the first committed baseline (schema 1, 2026-11-29)."""
    from tests.conftest import REPO

    results = store.load_results([REPO / "results" / "baseline"])
    assert len(results) == 21 and all(r.schema_version == SCHEMA_VERSION for r in results)
    (old,) = store.load_results([REPO / "tests" / "data" / "result-schema1.json"])
    assert old.schema_version == SCHEMA_VERSION and old.recipe == "baseline" and old.error_rate is not None
    assert all(e.elapsed_s is None for e in old.epochs)  # schema 1: no clock per epoch
    assert old.divergence is None and old.dropped_classes == ()  # fields added by schemas 3 and 4
