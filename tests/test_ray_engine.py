"""--engine ray: the same findings as the local engine, on a Ray instance started for the audit and on a
two-node Ray cluster on this machine; clear one-line errors when Ray is missing or unreachable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.audit import AuditOptions, run_audit
from curate.cli import app
from curate.decide import exit_code
from curate.report import json_report

SAMPLE = Path(__file__).resolve().parent.parent / "sample_datasets" / "lora_data"


def _report(**engine) -> dict:
    result = run_audit(AuditOptions(root=SAMPLE, use_cache=False, jobs=2, **engine))
    report = json_report.build(result, exit_code(result.findings, "error"))
    report["summary"].pop("extraction")  # how long it took: the one part that may differ
    return report


@pytest.fixture(scope="module")
def local_report() -> dict:
    return _report()


def test_ray_instance_started_for_the_audit_gives_the_same_report(local_report):
    pytest.importorskip("ray")
    got = _report(engine="ray")
    assert got == local_report
    assert got["summary"]["by_code"]  # the sample has findings: the comparison is not of two empty reports


def test_two_node_ray_cluster_gives_the_same_report(local_report):
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    # One CPU per node and two actors (--jobs 2): one actor runs on each node.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        got = _report(engine="ray", ray_address=cluster.address)
        assert not ray.is_initialized()  # the audit disconnected; the cluster itself is not the audit's to stop
        ray.init(address=cluster.address)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        ray.shutdown()
    finally:
        cluster.shutdown()
    assert got == local_report


def test_engine_ray_without_ray_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    out = CliRunner().invoke(app, ["audit", str(SAMPLE), "--engine", "ray", "--no-cache"])
    assert out.exit_code == 2
    assert "pip install 'curate[ray]'" in out.output and "Traceback" not in out.output


def test_ray_address_where_nothing_answers_is_one_line_not_a_hang():
    pytest.importorskip("ray")
    out = CliRunner().invoke(
        app, ["audit", str(SAMPLE), "--engine", "ray", "--ray-address", "127.0.0.1:9", "--no-cache"]
    )
    assert out.exit_code == 2
    assert "nothing answers at the Ray address 127.0.0.1:9" in out.output


@pytest.mark.parametrize(
    "args, says",
    [(["--engine", "spark"], "--engine must be local or ray"), (["--ray-address", "h:1"], "needs --engine ray")],
)
def test_engine_options_are_checked(args, says):
    out = CliRunner().invoke(app, ["audit", str(SAMPLE), *args])
    assert out.exit_code == 2 and says in out.output
