"""``--resume``: the session folder under --results-dir whose finished results stand for this session's cases."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from recipebench.record import store
from recipebench.record.results import RunResult
from recipebench.suite.identity import CaseIdentity
from recipebench.suite.options import Options

if TYPE_CHECKING:  # pragma: no cover
    from recipebench.train.runner import RunPlan

#: Result statuses that a resumed session does not train again: an error may be the machine's, so it reruns.
FINISHED = ("ok", "diverged")


def case_identity(plan: RunPlan, options: Options) -> CaseIdentity:
    """What must match for a finished result to stand for the case ``plan`` trains under ``options``."""
    return CaseIdentity.from_plan(plan, options.executor, options.cases_per_node)


@dataclass(frozen=True)
class Resumed:
    """The folder a resumed session continues in, and the cases it finished there (result, file)."""

    folder: Path
    finished: Mapping[tuple[str, int], tuple[RunResult, Path]]

    def reasons(self) -> dict[tuple[str, int], str]:
        """Each finished case, with why it does not train again (a skip reason)."""
        return {case: f"finished earlier in {self.folder} (--resume)" for case in self.finished}


def find_resumed(root: Path, wanted: Mapping[tuple[str, int], CaseIdentity],
                 say: Callable[[str], None] | None = None) -> Resumed | None:
    """The newest session folder under ``root`` holding a current document of one of the ``wanted`` cases
    with the same identity (:class:`~recipebench.suite.identity.CaseIdentity`), with its cases that
    finished (status ok or diverged); None if no folder has one. The other cases train there again (an
    earlier attempt moves to its ``attempts/`` as the new document is written). ``say``: told of a
    document written by a newer recipebench (not judged, so not silently redone)."""
    for folder in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True) if root.is_dir() else ():
        found, attempted = {}, False
        for path in sorted(folder.glob("*.json")):
            try:
                (result,) = store.load_results([path])
            except store.NewerResultError as exc:  # not this recipebench's to judge: said, not silently redone
                if say is not None:
                    say(f"--resume cannot read {exc}; no case is taken from it")
                continue
            except (store.ResultsError, ValueError):
                continue  # not a result of ours (or broken): not a case of this session
            case = (result.recipe, result.seed)
            if case in wanted and CaseIdentity.from_result(result) == wanted[case]:
                attempted = True
                if result.status in FINISHED:
                    found[case] = (result, path)
        if attempted:
            return Resumed(folder, found)
    return None
