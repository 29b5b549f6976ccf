"""A Hydra callback that makes one job's own process exit at once, as when its node dies.

On a Ray cluster that process is the Ray worker running the job's task, so the job ends
without a result (lost: no row, run again next time); a run whose child dies instead is a
`failed` row. Added to a sweep with +hydra.callbacks.lose._target_=tests.lost_jobs.LoseJob.
"""

import os

from hydra.experimental.callback import Callback


class LoseJob(Callback):
    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size  # the job with this batch size is lost

    def on_job_start(self, config, **kwargs) -> None:
        if config.batch_size == self.batch_size:
            os._exit(1)  # no exception, no cleanup: the process is simply gone
