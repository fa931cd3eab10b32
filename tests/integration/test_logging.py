"""--log-format json: one JSON object per line on stderr and in --log-file."""

import json

from harness.runner import run_vip
from harness.scenario import VIP


def test_json_log_lines(binary, moto, figure1, imds_node2, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    log = tmp_path / "vip.log"
    r = run_vip(binary, ["--config", cfg, "--log-format", "json", "--log-file", log,
                         "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto)
    assert r.returncode == 0, r
    for text in (r.stderr, log.read_text()):
        lines = [json.loads(line) for line in text.splitlines()]
        assert lines, text
        assert all(x["instance"] == "VI_1" and x["transition"] == "MASTER" and x["run"] for x in lines)
        assert any("2 changed" in x["message"] and x["level"] == "INFO" for x in lines), lines
    bad = run_vip(binary, ["--log-format", "xml", "status"], imds_node2, moto)
    assert bad.returncode == 2 and "--log-format" in bad.stderr, bad
