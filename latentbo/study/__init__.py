"""Studies: grids of training and BO cells run by a pluggable executor."""

from latentbo.study.executors import EXECUTORS, Executor, ExecutorSettings, make_executor
from latentbo.study.runner import aggregate, cell_state, run_cell, run_study
from latentbo.study.spec import Cell, StudySpec, derive_seed

__all__ = ["EXECUTORS", "Cell", "Executor", "ExecutorSettings", "StudySpec", "aggregate", "cell_state",
           "derive_seed", "make_executor", "run_cell", "run_study"]
