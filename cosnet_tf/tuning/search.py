"""`cosnet tune`: run (or resume) a Keras Tuner search and write its ablation report."""
import json
import os

from cosnet_tf.data.benchmark_data import write_benchmark_once
from cosnet_tf.tuning.ablation_report import AblationReport
from cosnet_tf.tuning.cosnet_hypermodel import COSNetHyperModel
from cosnet_tf.tuning.tuner_factory import make_tuner
from cosnet_tf.utils.atomic import atomic_write_bytes


def prepare_synthetic_data(config):
    """Writes the ``[synthetic]`` videos to ``train.davis_root`` unless that folder exists.

    Written to a temporary folder beside it and renamed when complete, so an
    interrupted run never leaves a half-written dataset that a later run would use.
    """
    root = config.train.davis_root
    if config.synthetic:
        write_benchmark_once(root, config.synthetic, "synthetic")
    return root


def run_search(config, overwrite=False, command=None, verbose=1):
    """Runs the search of a `TuneConfig` and writes its report.

    Running it again with the same config resumes: finished trials are kept,
    an interrupted trial continues from its last checkpoint, and the report
    is rewritten from all trials. ``overwrite=True`` starts afresh.

    Returns:
        ``(report, paths)``: the :class:`AblationReport` and the files written.
    """
    prepare_synthetic_data(config)
    hypermodel = COSNetHyperModel(
        config.train, config.space, config.evaluation, eval_every=config.eval_every
    )
    tuner = make_tuner(config, hypermodel, overwrite=overwrite)
    project = os.path.join(config.directory, config.project_name)
    os.makedirs(project, exist_ok=True)
    atomic_write_bytes(os.path.join(project, "tune_config.json"),
                       json.dumps(config.to_dict(), indent=2, default=str).encode())
    tuner.search(verbose=verbose)
    report = AblationReport.from_tuner(
        tuner,
        config.evaluation,
        default_coattention=config.train.coattention,
        reference_coattention=config.reference_coattention,
        title=config.title,
    )
    paths = report.write(config.report_dir, command=command)
    return report, paths
