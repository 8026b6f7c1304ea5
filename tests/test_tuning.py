"""Keras Tuner ablation search: grid, config, evaluator, report, and a real two-trial search."""
import json
import os

import keras_tuner
import pytest

from cosnet_tf.data import DavisDataset, SyntheticVideoGenerator
from cosnet_tf.evaluation import evaluate
from cosnet_tf.inference import MaskWriter, VideoSegmenter
from cosnet_tf.training.run_config import TrainConfig
from cosnet_tf.tuning import (
    AblationReport,
    COSNetHyperModel,
    EvaluationGrid,
    TuneConfig,
    VideoJEvaluator,
    setting_metric,
)
from tests.conftest import TINY_BACKBONE, conv_backbone, tiny_cosnet

# Its module fixtures are costly: the whole file on one xdist worker (pytest.ini: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("tuning")


def tiny_search_config(directory, **top):
    """A two-trial grid (vanilla vs no co-attention) on 4 tiny synthetic videos: seconds per trial."""
    values = {
        "directory": str(directory),
        "project_name": "tiny",
        "tuner": "grid",
        "synthetic": {"num_sequences": 4, "num_frames": 6, "image_size": [32, 32],
                      "num_val_sequences": 2, "seed": 0},
        "space": {"coattention": ["vanilla", "none"]},
        "evaluation": {"refs": [0, 1, 2], "default": {"refs": 2}},
        "train": {"davis_root": str(directory / "data"), "preset": "mobilenetv2",
                  "backbone_config": TINY_BACKBONE, "input_size": [32, 32], "batch_size": 2,
                  "steps": 4, "checkpoint_every": 2, "val_batches": 1, "verbose": 0,
                  "run_eagerly": True},  # a few steps a trial: eager steps cost less than a trace
    }
    values.update(top)
    return values


def write_toml(path, values):
    """A minimal TOML writer for the test configs (tomllib only reads)."""
    def literal(value):
        if isinstance(value, str):
            return json.dumps(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict):
            return "{ " + ", ".join(f"{k} = {literal(v)}" for k, v in value.items()) + " }"
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(literal(v) for v in value) + "]"
        return repr(value)

    lines = [f"{k} = {literal(v)}" for k, v in values.items() if not isinstance(v, dict)]
    for table, entries in values.items():
        if isinstance(entries, dict):
            lines.append(f"\n[{table}]")
            lines += [f"{k} = {literal(v)}" for k, v in entries.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ grid
def test_one_at_a_time_grid_scores_the_papers_settings():
    grid = EvaluationGrid()
    settings = grid.settings()
    assert settings[0] == (5, "attention", "uniform")  # the objective's setting first
    assert set(settings) == {
        (0, "attention", "uniform"), (1, "attention", "uniform"), (2, "attention", "uniform"),
        (5, "attention", "uniform"), (7, "attention", "uniform"), (5, "prediction", "uniform"),
        (5, "attention", "random"), (5, "attention", "local"),
    }
    assert len(settings) == len(set(settings))


def test_full_grid_keeps_one_setting_for_n0():
    grid = EvaluationGrid(refs=[0, 2], layout="full")
    settings = grid.settings()
    assert len(settings) == 1 + 2 * 3  # N = 0 once, then N = 2 x fusions x samplings
    assert [s for s in settings if s[0] == 0] == [(0, "attention", "uniform")]
    assert grid.metric(0, "prediction", "local") == "J_N0_attention_uniform"


@pytest.mark.parametrize("kwargs, message", [
    (dict(refs=[-1]), "N must be an integer >= 0"),
    (dict(fusions=["average"]), "evaluation.fusions"),
    (dict(samplings=[]), "evaluation.samplings"),
    (dict(default={"n": 5}), "unknown key"),
    (dict(layout="diagonal"), "evaluation.layout"),
])
def test_grid_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EvaluationGrid(**kwargs)


# ---------------------------------------------------------------- config
def test_tune_config_reads_toml_with_composed_parts(tmp_path):
    path = write_toml(tmp_path / "tune.toml", tiny_search_config(tmp_path))
    config = TuneConfig.from_file(path, max_trials=3)
    assert isinstance(config.train, TrainConfig) and config.train.input_size == (32, 32)
    assert isinstance(config.evaluation, EvaluationGrid) and config.evaluation.default_setting[0] == 2
    assert config.max_trials == 3 and config.report_dir == os.path.join(str(tmp_path), "tiny", "report")


@pytest.mark.parametrize("change, message", [
    ({"tuners": "grid"}, "unknown setting"),
    ({"tuner": "annealing"}, "tuner must be one of"),
    ({"tuner": "bayesian"}, "needs max_trials"),
    ({"space": {"learning_rate": {"min": 1e-4, "max": 1e-2}}}, "grid search needs lists"),
    ({"evaluation": {"references": [1]}}, "unknown \\[evaluation\\] setting"),
])
def test_tune_config_errors_name_the_setting(tmp_path, change, message):
    values = tiny_search_config(tmp_path)
    values.update(change)
    with pytest.raises(ValueError, match=message):
        TuneConfig.from_dict(values)


def test_tune_config_needs_a_train_table(tmp_path):
    values = tiny_search_config(tmp_path)
    del values["train"]
    with pytest.raises(ValueError, match=r"\[train\] table is required"):
        TuneConfig.from_dict(values)


# ------------------------------------------------------------- hypermodel
def test_hypermodel_maps_hyperparameters_onto_the_train_config(tmp_path):
    base = TrainConfig(davis_root=str(tmp_path), steps=4, checkpoint_every=2,
                       model={"preset": "mobilenetv2", "coattention_config": {"cosine": True}, "head_depth": 2})
    space = {"coattention": ["none", "symmetric"], "input_size": [64, 96],
             "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
             "orthogonality_weight": [1e-3], "frozen_backbone_blocks": [0, 6]}
    hypermodel = COSNetHyperModel(base, space, evaluator=object())
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    assert isinstance(hp._hps["learning_rate"][0], keras_tuner.engine.hyperparameters.Float)
    hp.values.update(coattention="none", input_size=96, learning_rate=3e-3, frozen_backbone_blocks=6)
    config = hypermodel.trial_config(hp)
    assert config.coattention is None and config.input_size == (96, 96) and config.learning_rate == 3e-3
    assert config.frozen_backbone_blocks == 6
    # The baseline has no co-attention settings; the rest of [model] and of the config stays.
    assert config.model == {"preset": "mobilenetv2", "coattention": None, "head_depth": 2}
    assert config.steps == 4
    # Eq. 12's weight is the symmetric variant's own setting, beside the base config's.
    hp.values.update(coattention="symmetric")
    config = hypermodel.trial_config(hp)
    assert config.model["coattention_config"] == {"cosine": True, "orthogonality_weight": 1e-3}


def test_hypermodel_rejects_test_time_axes_in_the_space(tmp_path):
    base = TrainConfig(davis_root=str(tmp_path), steps=4, checkpoint_every=2)
    with pytest.raises(ValueError, match="test-time axes"):
        COSNetHyperModel(base, {"refs": [0, 5]}, evaluator=object())


# -------------------------------------------------------------- evaluator
@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout")
    SyntheticVideoGenerator(3, 7, (48, 64), seed=3, num_val_sequences=2).write_davis(root)
    return root


def test_evaluator_equals_segment_then_evaluate(held_out, tmp_path):
    """The search's J is what `cosnet segment` + `cosnet evaluate` give on the same model."""
    model = tiny_cosnet(backbone=conv_backbone())
    grid = EvaluationGrid(refs=[0, 2], fusions=["attention", "prediction"], samplings=["uniform", "local"])
    dataset = DavisDataset(held_out, split="val")
    scores = VideoJEvaluator(dataset, grid, input_size=(32, 32)).per_sequence(model)
    for refs, fusion, sampling in grid.settings():
        segmenter = VideoSegmenter(model, refs, sampling, fusion, input_size=(32, 32))
        out = tmp_path / f"{refs}{fusion}{sampling}"
        for sequence in dataset:
            with MaskWriter(out / sequence.name) as writer:
                for index, probability in segmenter.iter_segment(sequence.frame_paths):
                    writer.write(index, probability)
        expected = evaluate(out, held_out, "davis2016", sequences=dataset.sequence_names, measures=("J",))
        for sequence in dataset:
            assert scores[setting_metric(refs, fusion, sampling)][sequence.name] == pytest.approx(
                expected.row(sequence.name)["J_mean"], abs=1e-6)


def test_evaluator_names_a_sequence_too_short_to_score(tmp_path):
    SyntheticVideoGenerator(2, 2, (32, 32), num_val_sequences=1).write_davis(tmp_path)
    with pytest.raises(ValueError, match="needs at least 3"):
        VideoJEvaluator(DavisDataset(tmp_path, split="val"))


# ----------------------------------------------------------------- report
def _fake_trials():
    def metrics(offset):
        values = {setting_metric(n, "attention", "uniform"): 0.5 + offset + 0.01 * n for n in (0, 1, 2, 5, 7)}
        values.update({
            setting_metric(5, "prediction", "uniform"): 0.52 + offset,
            setting_metric(5, "attention", "random"): 0.55 + offset,
            setting_metric(5, "attention", "local"): 0.54 + offset,
        })
        values["video_J"] = values[setting_metric(5, "attention", "uniform")]
        return values

    return [
        {"trial_id": "0", "status": "COMPLETED", "hyperparameters": {"coattention": "vanilla", "learning_rate": 1e-3},
         "metrics": metrics(0.0)},
        {"trial_id": "1", "status": "COMPLETED", "hyperparameters": {"coattention": "symmetric", "learning_rate": 1e-3},
         "metrics": metrics(0.1)},
        {"trial_id": "2", "status": "COMPLETED", "hyperparameters": {"coattention": "symmetric", "learning_rate": 1e-2},
         "metrics": metrics(0.05)},
        {"trial_id": "3", "status": "COMPLETED", "hyperparameters": {"coattention": "none", "learning_rate": 1e-3},
         "metrics": {"video_J": 0.4, setting_metric(0, "attention", "uniform"): 0.4}},
        {"trial_id": "4", "status": "FAILED", "hyperparameters": {"coattention": "channel", "learning_rate": 1.0},
         "metrics": {}},
    ]


def test_report_tables_follow_the_papers_layout(tmp_path):
    report = AblationReport(_fake_trials(), EvaluationGrid(), title="fake")
    assert report.reference_coattention == "symmetric"
    assert report.best_by_variant["symmetric"]["trial_id"] == "1"  # the better of its two trials
    table1 = report.table1()
    assert "| Symmetric co-attention (Eq. 4) | 0.650 | — |" in table1
    assert "| Vanilla co-attention (Eq. 3) | 0.550 | -0.100 |" in table1
    assert "| w/o co-attention (DeepLabv3 baseline) | 0.400 | -0.250 |" in table1
    assert "| Prediction fusion | 0.620 | -0.030 |" in table1
    assert "| Local consecutive sampling | 0.640 | -0.010 |" in table1
    assert "Channel" not in table1  # its only trial failed
    table2 = report.table2()
    assert table2.splitlines()[0] == "| Co-attention | N = 0 | N = 1 | N = 2 | N = 5 | N = 7 |"
    assert "| Symmetric co-attention (Eq. 4) | 0.600 | 0.610 | 0.620 | 0.650 | 0.670 |" in table2
    assert "| 4 | channel | 1 | FAILED | n/a |" in report.trials_table()
    paths = report.write(tmp_path / "report", command="cosnet tune --config x.toml")
    markdown = open(paths["markdown"]).read()
    assert "cosnet tune --config x.toml" in markdown and "## Table 2" in markdown
    assert open(paths["plot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(json.load(open(paths["trials"]))) == 5


# ------------------------------------------------------ a real search (CI)
class _Interrupt(KeyboardInterrupt):
    pass


@pytest.fixture(scope="module")
def tiny_search(tmp_path_factory):
    """Runs the two-trial search three times: interrupted in trial 2, resumed (CLI), re-run."""
    import cosnet_tf.tuning.cosnet_hypermodel as hypermodel_module
    from cosnet_tf.cli.main import main
    from cosnet_tf.training.callbacks import ResumableCheckpoint
    from cosnet_tf.tuning import run_search

    directory = tmp_path_factory.mktemp("search")
    config_path = write_toml(directory / "tune.toml", tiny_search_config(directory))

    seen = []

    class InterruptingCheckpoint(ResumableCheckpoint):
        # Kills the search (like Ctrl-C) right after the second trial's first checkpoint.
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if self.directory not in seen:
                seen.append(self.directory)
            if len(seen) == 2 and epoch == 0:
                raise _Interrupt()

    original = hypermodel_module.ResumableCheckpoint
    hypermodel_module.ResumableCheckpoint = InterruptingCheckpoint
    try:
        with pytest.raises(_Interrupt):
            run_search(TuneConfig.from_file(config_path), verbose=0)
    finally:
        hypermodel_module.ResumableCheckpoint = original
    project = directory / "tiny"
    trial_dirs = sorted(p for p in project.iterdir() if p.name.startswith("trial_"))
    first_result = (trial_dirs[0] / "video_j.json").stat().st_mtime_ns
    interrupted_state = json.loads((trial_dirs[1] / "resume" / "state.json").read_text())

    assert main(["tune", "--config", str(config_path)]) == 0
    report_path = project / "report" / "ablation.md"
    resumed_report = report_path.read_text()
    assert main(["tune", "--config", str(config_path)]) == 0  # nothing left: no trial runs again
    return {
        "project": project,
        "trial_dirs": trial_dirs,
        "first_result": first_result,
        "interrupted_state": interrupted_state,
        "resumed_report": resumed_report,
        "report": report_path.read_text(),
        "tuner": TuneConfig.from_file(config_path),
    }


@pytest.mark.slow  # the fixture runs a real search three times
def test_two_trial_search_records_j_for_each_trial(tiny_search):
    oracle = json.loads((tiny_search["project"] / "oracle.json").read_text())
    trials = [json.loads((d / "trial.json").read_text()) for d in tiny_search["trial_dirs"]]
    assert len(trials) == 2 and oracle["ongoing_trials"] == {}
    assert [t["hyperparameters"]["values"]["coattention"] for t in trials] == ["vanilla", "none"]
    for trial in trials:
        assert trial["status"] == "COMPLETED"
        metrics = trial["metrics"]["metrics"]
        for name in ["video_J"] + [setting_metric(*s) for s in EvaluationGrid(refs=[0, 1, 2],
                                                                              default={"refs": 2}).settings()]:
            value = metrics[name]["observations"][0]["value"][0]
            assert 0.0 <= value <= 1.0, name
        assert trial["score"] == metrics["video_J"]["observations"][0]["value"][0]


@pytest.mark.slow  # the fixture runs a real search three times
def test_interrupted_trial_resumes_from_its_checkpoint(tiny_search):
    assert tiny_search["interrupted_state"]["step"] == 2  # killed after the first of two epochs
    log = (tiny_search["trial_dirs"][1] / "log.csv").read_text().splitlines()
    epochs = [int(line.split(",")[0]) for line in log[1:]]
    assert epochs == [0, 1]  # epoch 0 was not trained again
    state = json.loads((tiny_search["trial_dirs"][1] / "resume" / "state.json").read_text())
    assert state["step"] == 4
    # The finished trial was not run again by either later search.
    assert (tiny_search["trial_dirs"][0] / "video_j.json").stat().st_mtime_ns == tiny_search["first_result"]


@pytest.mark.slow  # the fixture runs a real search three times
def test_search_writes_the_ablation_report(tiny_search):
    report = tiny_search["report"]
    assert report == tiny_search["resumed_report"]
    assert "cosnet tune --config" in report
    assert "| Vanilla co-attention (Eq. 3) |" in report and "| w/o co-attention (DeepLabv3 baseline) |" in report
    assert "| Co-attention | N = 0 | N = 1 | N = 2 |" in report
    assert (tiny_search["project"] / "report" / "j_vs_n.png").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.parametrize("tuner", ["hyperband", "bayesian"])
def test_hyperband_and_bayesian_searches_over_ranges(tmp_path, tuner):
    """Continuous ranges (learning rate, lambda of Eq. 12) with the tuners meant for them."""
    from cosnet_tf.tuning import run_search

    values = tiny_search_config(tmp_path, tuner=tuner, max_trials=2)
    values["space"] = {"coattention": ["symmetric"],
                       "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"},
                       "orthogonality_weight": {"min": 1e-5, "max": 1e-3, "sampling": "log"}}
    values["train"]["steps"] = 6  # Hyperband: at most 3 epochs of 2 steps
    # The objective's setting and N = 0: the grid's other settings are the grid tests' subject.
    values["evaluation"] = {"refs": [0, 2], "fusions": ["attention"], "samplings": ["uniform"],
                            "default": {"refs": 2}}
    report, paths = run_search(TuneConfig.from_dict(values), verbose=0)
    completed = report.completed
    assert len(completed) >= 2
    rates = {t["hyperparameters"]["learning_rate"] for t in completed}
    assert len(rates) >= 2 and all(1e-3 <= r <= 1e-1 for r in rates)
    assert all(0.0 <= t["metrics"]["video_J"] <= 1.0 for t in completed)
    if tuner == "hyperband":  # later rounds continue earlier trials' models for more epochs
        assert max(t["metrics"]["steps"] for t in completed) > min(t["metrics"]["steps"] for t in completed)
    assert os.path.exists(paths["markdown"])


def test_tune_cli_reports_a_bad_config_in_one_line(tmp_path, capsys):
    from cosnet_tf.cli.main import main

    assert main(["tune", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err
    values = tiny_search_config(tmp_path)
    values["space"] = {"refs": [0, 5]}
    assert main(["tune", "--config", str(write_toml(tmp_path / "bad.toml", values))]) == 2
    assert "test-time axes" in capsys.readouterr().err


def test_tune_writes_its_report_where_out_says(capsys):
    from cosnet_tf.cli.main import build_parser

    assert build_parser().parse_args(["tune", "--config", "c.toml", "--out", "r"]).report_dir == "r"
    assert build_parser().parse_args(["tune", "--config", "c.toml", "--report-dir", "old"]).report_dir == "old"
    assert "--report-dir is deprecated, use --out" in capsys.readouterr().err
