"""Option parsing: values users type, and the errors they get."""
import pytest

from recipebench.suite.options import (
    Options,
    UsageError,
    coerce_option,
    from_values,
    parse_recipe_options,
    parse_seeds,
)


def test_seeds():
    assert parse_seeds("3") == (0, 1, 2)
    assert parse_seeds("0,5,7") == (0, 5, 7)
    for bad in ("0", "-1", "a", "1,1", ","):
        with pytest.raises(UsageError, match="--seeds"):
            parse_seeds(bad)


def test_recipe_options():
    got = parse_recipe_options(["lr_find_tuned.suggestion=steep", "x.y=1"])
    assert got["lr_find_tuned"]["suggestion"] == "steep" and got["x"]["y"] == "1"
    with pytest.raises(UsageError, match="RECIPE.KEY=VALUE"):
        parse_recipe_options(["nodot=1"])
    assert coerce_option("r", "k", "0.5", 1.0) == 0.5
    assert coerce_option("r", "k", "yes", False) is True
    with pytest.raises(UsageError, match="r.k=abc: expected a float"):
        coerce_option("r", "k", "abc", 1.0)


def test_defaults_and_values():
    opts = from_values({})
    assert (opts.workload, opts.scale, opts.seeds, opts.device, opts.weights) == ("synthetic", None, (0,), "auto", "auto")
    opts = from_values({"scale": "smoke", "seeds": "2", "recipes": ["baseline"]})
    assert (opts.scale, opts.seeds, opts.recipes) == ("smoke", (0, 1), ("baseline",))
    assert (opts.labels, opts.split, opts.drop_small_classes) == (None, "auto", False)
    opts = from_values({"labels": "parent", "split": "folders:test", "drop_small_classes": True})
    assert (opts.labels, opts.split, opts.drop_small_classes) == ("parent", "folders:test", True)


def test_bad_values(tmp_path):
    with pytest.raises(UsageError, match="--scale 'big'"):
        Options(scale="big")
    with pytest.raises(UsageError, match="--data-dir"):
        Options(data_dir=tmp_path / "missing")
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="--results-dir"):
        Options(results_dir=tmp_path / "file")
    with pytest.raises(UsageError, match="not a regular expression"):
        Options(label_re="(")
    with pytest.raises(UsageError, match="--labels 'grand': choose one of top, parent"):
        Options(labels="grand")
    with pytest.raises(UsageError, match="--labels parent and --label-re: choose one"):
        Options(labels="parent", label_re="(.+)_")
    for bad in ("sideways", "random:x", "folders:", "folders:a/b"):
        with pytest.raises(UsageError, match=f"--split '{bad}': choose auto, random, folders or folders:NAME"):
            Options(split=bad)


def test_the_option_table_and_options_are_one_definition():
    """Every row of OPTION_TABLE is a field of Options and every field a row; a row's default is the field's."""
    import dataclasses

    from recipebench.suite.options import OPTION_TABLE

    defaults = Options()
    fields = [f.name for f in dataclasses.fields(Options)]
    dests = [dest for _flag, dest, *_ in OPTION_TABLE]
    assert dests == fields  # same names, same order (the options table in the docs follows it)
    for _flag, dest, _help, _parse, default in OPTION_TABLE:
        assert default == getattr(defaults, dest), f"--{dest}: OPTION_TABLE says {default!r}, Options another"
    assert from_values({}) == defaults
