"""The notebooks run end to end through papermill; every params file fits its notebook."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import papermill
import pytest

from pmresearch.config import flat_defaults, from_mapping, load_yaml
from pmresearch.data import read_file
from pmresearch.experiments.data_features import DataFeaturesConfig
from pmresearch.experiments.explore import ExploreConfig
from pmresearch.experiments.go_no_go import GoNoGoConfig
from pmresearch.experiments.model_a import ModelAConfig
from pmresearch.reports import display_path, run_notebook

REPO = Path(__file__).resolve().parents[1]


def _rows(data: Path, pattern: str) -> int:
    """Rows of the sample's files matching ``pattern`` (no count of the sample is hard-coded)."""
    files = sorted(data.glob(pattern))
    assert files, pattern
    return sum(len(read_file(f)) for f in files)
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
    assert "Traceback" not in page and "run(cfg" not in page  # no errors, no code
    _travels(page, json.dumps(head), roots=(root,))
    # each input's source and age is shown
    assert re.search(r"<h2[^>]*>Where the inputs came from, and how old they were", page)
    assert "vol__rv_1m_60m" in page and "median_age_s" in page and "book" in page
    assert head["sources"]["vol_source"]
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
    config = {"04_go_no_go": GoNoGoConfig, "00_explore": ExploreConfig, "05_data_features": DataFeaturesConfig,
              "06_model_a": ModelAConfig}[path.parent.name]
    from_mapping(config, params, what=str(path))  # types and ranges


@pytest.mark.parametrize(("notebook", "config"), [("04_go_no_go", GoNoGoConfig), ("00_explore", ExploreConfig),
                                                  ("05_data_features", DataFeaturesConfig),
                                                  ("06_model_a", ModelAConfig)])
def test_parameters_cell_matches_its_config(notebook: str, config: type) -> None:
    """The notebook's typed defaults and its config's fields are the same set with the same values."""
    declared = papermill.inspect_notebook(str(REPO / "notebooks" / f"{notebook}.ipynb"))
    fields = flat_defaults(config)  # the flat keys, nested configs' leaves included
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
    assert real_head["rows"]["quotes"] == _rows(shared_data, "polymarket_btc_*_quotes_*.parquet")
    for page in (sim.html.read_text(), real.html.read_text()):
        assert page.count('class="plotly-graph-div"') == 2
        assert "Traceback" not in page
        _travels(page, roots=(scratch_repo, shared_data))


def _travels(*texts: str, roots: tuple[Path, ...]) -> None:
    """A report and its headline name no absolute path of this machine (a report travels, a path does not)."""
    for text in texts:
        for root in roots:
            assert str(root) not in text, root


def _check_page(page: str, headings: tuple[str, ...], code: tuple[str, ...]) -> None:
    """A report: its section headings, plotly.js embedded once and offline, no error, no code."""
    for heading in headings:
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}", page), heading
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    assert not re.search(r"<script[^>]+src=[\"']https?://", page)
    assert "Traceback" not in page
    for call in code:
        assert call not in page, call


def test_data_features_report_on_a_simulated_world(scratch_repo: Path) -> None:
    out = run_notebook("05_data_features", scratch_repo / "params" / "05_data_features" / "ci.yaml",
                       repo_root=scratch_repo)
    head, page = json.loads(out.json.read_text()), out.html.read_text()
    # ci.yaml: decisions every 120 s from 60 s to 30 s before the end of 15-minute windows: 60, 180, ..., 780
    assert head["windows"] >= 15 and head["decision_rows"] == 7 * head["windows"]
    assert head["quality_min_coverage"] == 1.0  # the simulator drops no kline, oracle tick or quote
    assert head["leakage_passed"] is True and head["leakage_failing"] == 0 and head["leakage_rows"] == 5
    assert head["stationarity_tested"] == 6  # stationarity_features in ci.yaml
    assert 0.0 <= head["selection_nogueira"] <= 1.0 and head["top_feature"] in head["selection_frequency"]
    assert head["features"] > 100
    _check_page(page, ("What is in the store", "Data quality", "Decision rows x features", "Feature catalog",
                       "Leakage audit", "Stationarity", "Selection stability across purged folds"),
                ("df5.open_store(", "selection_check("))
    assert 'class="feature-catalog"' in page and "Leakage audit by feature family" in page
    assert page.count('class="pmr-summary"') >= 2  # the quality and leakage summaries render as HTML tables
    assert "<caption>label flips</caption>" in page
    assert len(re.findall(r"<h2[^>]*>Feature catalog", page)) == 1  # the section heading, not repeated
    for title in ("Completeness (regular series)", "Feature coverage: share of", "Stationarity: stationary",
                  "selection across 3 purged folds"):
        assert title in page, title
    assert page.count('class="plotly-graph-div"') >= 6
    assert "IProgress" not in out.ipynb.read_text()  # the runner turns progress bars off in report kernels
    assert (scratch_repo / "data" / "runs" / "05_data_features" / "ci.duckdb").exists()
    assert "05_data_features/ci.html" in (scratch_repo / "reports" / "index.html").read_text()


def test_data_features_report_on_the_real_sample(scratch_repo: Path, shared_data: Path) -> None:
    out = run_notebook("05_data_features", scratch_repo / "params" / "05_data_features" / "real_sample.yaml",
                       {"data_dir": str(shared_data), "interval_minutes": 15, "every_s": 300.0, "leakage_rows": 5,
                        "cv_folds": 3, "stationarity_features": 4, "run_name": "real_small"}, repo_root=scratch_repo)
    head, page = json.loads(out.json.read_text()), out.html.read_text()
    assert head["source"] == f"data directory {display_path(shared_data, root=scratch_repo)}"
    _travels(page, out.json.read_text(), roots=(scratch_repo, shared_data))
    # the quote files (load_data_dir reads no websocket recording)
    assert head["rows_by_table"]["polymarket_quotes"] == _rows(shared_data, "polymarket_btc_*_quotes_*.parquet")
    assert head["leakage_passed"] is True
    assert head["quality_min_coverage"] < 1.0  # the real sample has gaps
    _check_page(page, ("Data quality", "Leakage audit", "Selection stability across purged folds"), ())


def test_model_a_report_against_the_truth(scratch_repo: Path) -> None:
    out = run_notebook("06_model_a", scratch_repo / "params" / "06_model_a" / "ci.yaml", repo_root=scratch_repo)
    head, page = json.loads(out.json.read_text()), out.html.read_text()
    # Bipower vol of 900 one-second returns: asymptotic variance (pi^2/4 + pi - 5) sigma^4 / n of the
    # variance (Barndorff-Nielsen & Shephard 2004), i.e. about 2.7% relative error of the vol per window.
    assert head["bv_1s_rmse_log"] < 0.05
    # Realized vol counts the jumps, the true diffusion sigma does not. ci.yaml keeps the calibrated jump size
    # (jump_sd 0.00033) at 8 jumps a day (ModelAConfig sets jumps_per_day, at most 1,000; the calibrated
    # 1,300 would leave no jump-free window). A 15-min window is T = 900 / 31,536,000 = 2.85e-5 yr; at
    # sigma 0.30, sigma^2 T = 2.57e-6, and one jump adds jump_sd^2 = 1.09e-7, 4.2% of the variance:
    # sqrt(1.042) - 1 = 2.1% of vol (per unit time jumps add 8 * 365 * 1.09e-7 = 3.2e-4 a year vs
    # sigma^2 = 0.09). Jump windows (11 of 168 here, one jump each) should show a bias of ~0.02 (0.023 at their
    # true sigmas), sd ~0.013 (chi-square(1) jump sizes and 1-s sampling over 11 windows); measured 0.044.
    # Without the jumps it is ~0 (no-jump windows: -0.002); the former jumps (sd 0.003) gave > 0.5.
    assert 0.01 < head["rv_1s_jump_bias"] < 0.1
    scores = head["scores"]
    assert {"bs_hv", "bs_garch", "merton_garch", "bs_xgboost", "market mid", "true P(up)"} <= set(scores)
    assert head["log_loss_truth"] < head["log_loss_market"]  # the edge preset's maker is distorted
    assert scores["merton_true"]["mae_vs_true_p"] < 0.03  # the simulator's own model, up to drift and noise
    assert head["jump_lam"] > 0 and head["best_forecaster"] in page
    _check_page(page, ("Volatility estimators vs the true sigma", "Volatility forecasters", "Jumps",
                       "Model A vs the market and the truth"), ("ma.score_models(", "forecast_vol("))
    assert "lightgbm" in page and "xgboost" in page
    assert page.count('class="plotly-graph-div"') == 6  # estimators x2, forecasts x2, jumps, reliability
    assert "06_model_a/ci.html" in (scratch_repo / "reports" / "index.html").read_text()
