"""xeonsweep's Hydra sweeper: Hydra's basic sweep expansion of params and command line,
then xeonsweep's sweep driver (xeonsweep.sweep.driver) plans, launches and reports."""

from dataclasses import dataclass
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser

from xeonsweep.search import hook
from xeonsweep.sweep.driver import Driver


@dataclass
class XeonSweeperConf:
    _target_: str = "hydra_plugins.xeonsweep_sweeper.xeonsweep_sweeper.XeonSweeper"
    # Jobs handed to the launcher at once. null: one at a time for a launcher that runs jobs
    # on this machine (so runs never overlap and progress is per run), all at once otherwise.
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


ConfigStore.instance().store(group="hydra/sweeper", name="xeonsweep", node=XeonSweeperConf, provider="xeonsweep")


class XeonSweeper(BasicSweeper):  # noqa: D101
    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        loader, config = self.hydra_context.config_loader, self.config
        driver = Driver(config, self.launcher, lambda overrides: loader.load_sweep_config(config, overrides),
                        self.max_batch_size)
        if hook.searching(config):  # search=tpe, gp, random: the search asks for configs, not the grid
            # The driver's composition of a job's settings (its YAML files checked) serves the search's candidates;
            # the launcher measures them on a cluster.
            return hook.hand_over(config, driver.job_settings, [*self._parse_config(), *arguments], self.launcher)
        return driver.sweep(self._job_overrides(arguments), arguments)

    def _job_overrides(self, arguments: list[str]) -> list[list[str]]:
        """Every job's overrides: Hydra's basic expansion of params and command line."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*self._parse_config(), *arguments])
        return self.split_arguments(overrides, None)[0]
