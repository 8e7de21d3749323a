"""The jobs: a job YAML file -> trained model -> HLS project -> C simulation -> report.

Owns: :mod:`.schema` (every job config key, once), :mod:`.config` (loading a job file and
validating all of it before any work: :func:`~hls.jobs.config.prepare_job`), :mod:`.job` (the
training job, :func:`~hls.jobs.job.run_job`), :mod:`.model_job` (bring your own model: convert
without training).
May import: :mod:`hls.project`, :mod:`hls.sim`, :mod:`hls.vendor`, :mod:`hls.safety`, ``kappa``;
never :mod:`hls.sweep` or :mod:`hls.cli`.
"""
