"""Many notifies at once for one instance end as the last transition says, every time."""

import subprocess

from harness.runner import vip_env
from harness.scenario import VIP, changes, snapshot


def launch_burst(binary, cfg, state_dir, imds, moto, home, count, last):
    """`count` notifies alternating MASTER/BACKUP ending in `last`, launched without waiting."""
    env = vip_env(imds, moto, str(home), {"EC2_VIP_STATE_DIR": state_dir})
    states = ["MASTER", "BACKUP"] if (count % 2 == 0) == (last == "BACKUP") else ["BACKUP", "MASTER"]
    procs = []
    for i in range(count):
        argv = [str(binary), "--config", str(cfg), "-q", "notify", "INSTANCE", "VI_1", states[i % 2], "150"]
        procs.append(subprocess.Popen(argv, env=env, cwd=home, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    assert states[(count - 1) % 2] == last
    errors = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        if p.returncode != 0:
            errors.append((p.returncode, err))
    return errors


def test_rapid_alternating_notifies_end_with_the_last_transition(binary, moto, ec2, figure1, imds_node2, tmp_path):
    eip = figure1["eip"]["allocation_id"]
    node2 = figure1["node2"]["eni_id"]
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{eip}"]\nrelease = true\n')
    state_dir = str(tmp_path / "state")
    start = snapshot(ec2, figure1)
    for round_ in range(3):
        errors = launch_burst(binary, cfg, state_dir, imds_node2, moto, tmp_path, 100, "MASTER")
        assert errors == [], errors[:3]
        now = snapshot(ec2, figure1)
        assert now["routes"][figure1["rtb_a"]][VIP] == node2, f"round {round_}"
        assert now["routes"][figure1["rtb_b"]][VIP] == node2, f"round {round_}"
        assert now["addresses"][eip] == node2, f"round {round_}: a late BACKUP released the EIP"
        assert set(changes(start, now)) == {("route", figure1["rtb_a"], VIP), ("route", figure1["rtb_b"], VIP),
                                            ("address", eip)}

        errors = launch_burst(binary, cfg, state_dir, imds_node2, moto, tmp_path, 99, "BACKUP")
        assert errors == [], errors[:3]
        assert snapshot(ec2, figure1)["addresses"][eip] is None, f"round {round_}: a late MASTER took the EIP back"
