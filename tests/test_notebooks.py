"""The notebooks run end to end through papermill; every params file fits its notebook."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import shutil
from pathlib import Path

import papermill
import pytest

from pmresearch.backtest import GoNoGoConfig
from pmresearch.config import from_mapping, load_yaml
from pmresearch.reports import run_notebook
from pmresearch.reports.explore import ExploreConfig

REPO = Path(__file__).resolve().parents[1]
PARAM_FILES = sorted((REPO / "params").glob("*/*.yaml"))


@pytest.fixture(scope="module")
def scratch_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch copy of the repository layout, so runs never write into the checkout."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "params", root / "params")
    (root / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    return root


@pytest.fixture(scope="module")
def go_no_go_ci(scratch_repo: Path) -> tuple[Path, dict[str, object], str]:
    """04_go_no_go with params/04_go_no_go/ci.yaml."""
    out = run_notebook("04_go_no_go", scratch_repo / "params" / "04_go_no_go" / "ci.yaml", repo_root=scratch_repo)
    return scratch_repo, json.loads(out.json.read_text()), out.html.read_text()


def test_go_no_go_report_has_its_content(go_no_go_ci: tuple[Path, dict[str, object], str]) -> None:
    root, head, page = go_no_go_ci
    assert head["decision"] in ("GO", "NO-GO")
    criteria = head["criteria"]
    assert isinstance(criteria, list) and len(criteria) == 3
    assert {"name", "value", "threshold", "passed"} <= set(criteria[0])
    assert criteria[0]["threshold"] == 200.0  # fixed by the params before the run
    assert f'data-pmr-decision="{head["decision"]}"' in page
    assert page.count('class="plotly-graph-div"') == 4  # equity, calibration, edge, mispricing
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # plotly.js embedded once
    assert "Traceback" not in page and "run_go_no_go(" not in page  # no errors, no code
    assert not re.search(r"<script[^>]+src=[\"']https?://", page)
    assert (root / "data" / "runs" / "04_go_no_go" / "ci.duckdb").exists()
    assert (root / "reports" / "index.html").read_text().count("04_go_no_go/ci.html") >= 1


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_params_files_fit_their_notebook(path: Path) -> None:
    notebook = REPO / "notebooks" / f"{path.parent.name}.ipynb"
    assert notebook.exists(), f"{path} has no notebook"
    declared = papermill.inspect_notebook(str(notebook))
    params = load_yaml(path)
    assert set(params) <= set(declared), sorted(set(params) - set(declared))
    config = {"04_go_no_go": GoNoGoConfig, "00_explore": ExploreConfig}[path.parent.name]
    from_mapping(config, params, what=str(path))  # types and ranges


@pytest.mark.parametrize(("notebook", "config"), [("04_go_no_go", GoNoGoConfig), ("00_explore", ExploreConfig)])
def test_parameters_cell_matches_its_config(notebook: str, config: type) -> None:
    """The notebook's typed defaults and its config's fields are the same set with the same values."""
    declared = papermill.inspect_notebook(str(REPO / "notebooks" / f"{notebook}.ipynb"))
    fields = {f.name: f.default for f in dataclasses.fields(config)}
    assert set(declared) == set(fields)
    for name, info in declared.items():
        assert ast.literal_eval(info["default"]) == fields[name], name


def test_explore_reads_a_simulated_world_and_the_real_sample(scratch_repo: Path, shared_data: Path) -> None:
    sim = run_notebook("00_explore", scratch_repo / "params" / "00_explore" / "ci.yaml", repo_root=scratch_repo)
    real = run_notebook("00_explore", scratch_repo / "params" / "00_explore" / "real_sample.yaml",
                        {"data_dir": str(shared_data)}, repo_root=scratch_repo)
    sim_head, real_head = json.loads(sim.json.read_text()), json.loads(real.json.read_text())
    assert sim_head["brier_true"] < sim_head["brier_mid"]  # the truth beats the distorted maker
    assert real_head["brier_true"] is None  # real quotes carry no ground truth
    assert real_head["rows"]["quotes"] == 16_082
    for page in (sim.html.read_text(), real.html.read_text()):
        assert page.count('class="plotly-graph-div"') == 2
        assert "Traceback" not in page
