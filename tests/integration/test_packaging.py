"""The .deb's sources agree with each other and with the docs: one binary path everywhere
(/usr/sbin/ec2-vip, where the package installs it), every example packaged, the config
file's man page covering every key of src/config/, the unit's environment file, and the
package metadata lintian needs. The package itself is built and checked by lintian, installed
into an empty root and run by scripts/package (in CI); these checks need no build tools."""

import fnmatch
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_BINARY = "/usr/sbin/ec2-vip"
# A path ending in bin/ec2-vip, as a keepalived line or a unit's ExecStart would name it.
BINARY_PATH = re.compile(r"(/[\w./-]*/s?bin/ec2-vip)(?=[\s\"']|$)", re.M)


def deb_metadata():
    return tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["metadata"]["deb"]


def shipped_texts():
    """Every example file, and the README: what an operator copies lines from."""
    files = [p for p in (ROOT / "examples/keepalived").rglob("*") if p.is_file()]
    return [(p.relative_to(ROOT), p.read_text()) for p in [*files, ROOT / "README.md"]]


def test_examples_and_readme_name_the_package_binary():
    named = {(str(path), m) for path, text in shipped_texts() for m in BINARY_PATH.findall(text)}
    assert named, "no binary path found: the pattern is broken"
    wrong = sorted((p, m) for p, m in named if m != PACKAGE_BINARY)
    # The README may say where a hand-copied binary could live instead, in that one place.
    allowed = {("README.md", "/usr/local/sbin/ec2-vip")}
    assert set(wrong) <= allowed, wrong
    assert "must name that path" in (ROOT / "README.md").read_text()


def test_help_names_the_package_binary(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    assert f'notify "{PACKAGE_BINARY} --syslog notify"' in out, out
    assert "/usr/local/sbin" not in out, out


def test_unit_runs_the_package_binary_with_an_environment_file():
    unit = (ROOT / "examples/keepalived/ec2-vip-watch.service").read_text()
    keys = [line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")]
    values = {}
    for k, v in keys:
        values.setdefault(k, []).append(v)
    assert values["EnvironmentFile"] == ["-/etc/default/ec2-vip"], values
    exec_start = values["ExecStart"][0].split()
    assert exec_start[0] == PACKAGE_BINARY, exec_start
    # The file's variable reaches the command line, before the subcommand (a global option).
    assert exec_start.index("$EC2VIP_ARGS") < exec_start.index("watch"), exec_start
    # ...and watch's own options after it (the last word: a later option wins).
    assert exec_start[-1] == "$EC2VIP_WATCH_ARGS" and "watch" in exec_start[:-1], exec_start
    # Empty unless the file sets them.
    assert values["Environment"] == ["EC2VIP_ARGS=", "EC2VIP_WATCH_ARGS="], values


def test_every_example_is_packaged():
    sources = [a[0] for a in deb_metadata()["assets"]]
    examples = [p.relative_to(ROOT).as_posix() for d in ("examples/keepalived", "examples/prometheus")
                for p in (ROOT / d).rglob("*") if p.is_file()]
    # cargo-deb's globs: `*` does not cross a directory.
    unpacked = [e for e in examples
                if not any(fnmatch.fnmatch(e, s) and e.count("/") == s.count("/") for s in sources)]
    assert examples and not unpacked, unpacked


def test_unit_is_installed_with_maintainer_scripts_and_not_started():
    deb = deb_metadata()
    unit = deb["systemd-units"]
    assert unit["unit-name"] == "ec2-vip-watch"
    assert (ROOT / unit["unit-scripts"] / "ec2-vip-watch.service").is_file()
    assert unit["enable"] is False and unit["start"] is False, unit
    # cargo-deb writes the postinst/prerm/postrm fragments only with a maintainer-scripts dir.
    assert (ROOT / deb["maintainer-scripts"]).is_dir()


def test_package_metadata_lintian_needs():
    deb = deb_metadata()
    assert re.fullmatch(r"[^<>@]+ <[^<>@\s]+@[^<>@\s]+\.[a-z]+>", deb["maintainer"]), deb["maintainer"]
    assert "ca-certificates" in [d.strip().split()[0] for d in deb["depends"].split(",")], deb["depends"]
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    changelog = (ROOT / deb["changelog"]).read_text()
    assert changelog.startswith(f"ec2-vip ({version}-1) "), changelog.splitlines()[0]
    assert f"-- {deb['maintainer']}  " in changelog
    copyright_text = (ROOT / deb["license-file"][0]).read_text()
    assert copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
    assert re.search(r"^Copyright: \d{4} ", copyright_text, re.M), copyright_text
    # Every lintian override says why, in a comment right above it.
    overrides = (ROOT / "debian/ec2-vip.lintian-overrides").read_text().splitlines()
    for i, line in enumerate(overrides):
        if line and not line.startswith("#"):
            assert i > 0 and overrides[i - 1].startswith("#"), f"override without a reason: {line}"


def config_keys():
    """The keys of the TOML config: the fields of its serde structs in src/config/."""
    src = "\n".join(p.read_text() for p in sorted((ROOT / "src/config").glob("*.rs")))
    keys = set()
    for name in ("RawTop", "RawInstance", "PinnedEip", "Site", "RawDnsRecord"):
        body = re.search(rf"struct {name} \{{(.*?)\n\}}", src, re.S)
        assert body, f"struct {name} not found in src/config/"
        keys |= set(re.findall(r"^\s*(?:pub(?:\(\w+\))? )?(?:r#)?(\w+):", body.group(1), re.M))
    return keys


def test_config_man_page_documents_every_key():
    page = (ROOT / "man/ec2-vip.toml.5").read_text()
    keys = config_keys()
    assert {"routes", "elastic_ips", "sites", "role_arn", "private_ip", "on_event", "dns_records", "type"} <= keys, keys
    # `instance` is the [instance.NAME] table; every other key starts a .B line of its own.
    documented = set(re.findall(r"^\.B \[*(?:instance\.\\fINAME\\fP\.)?(\w+)", page, re.M))
    documented |= {"instance"} if ".B [instance.\\fINAME\\fP]" in page else set()
    documented |= set(re.findall(r"\b(private_ip|id) = ", page))  # inside elastic_ips
    missing = sorted(keys - documented)
    assert not missing, f"man/ec2-vip.toml.5 lacks {missing}"
    assert page.startswith(".\\\"") and "\n.TH EC2\\-VIP.TOML 5 " in page


def test_rpm_ships_what_the_deb_ships():
    """One file list, two packers: every source the .deb packs is in the .rpm too (man pages
    as the gzipped copies scripts/package-rpm makes; lintian's overrides are Debian's own),
    at the same place but for the zsh completion (Fedora's and SUSE's site-functions)."""
    meta = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["metadata"]
    rpm = {a["source"]: a["dest"] for a in meta["generate-rpm"]["assets"]}
    renamed = {"target/docs/man/*.8": "target/rpm/man/*.8.gz", "man/ec2-vip.toml.5": "target/rpm/man/ec2-vip.toml.5.gz"}
    debian_only = {"debian/ec2-vip.lintian-overrides"}
    zsh = {"target/docs/completions/_ec2-vip": "/usr/share/zsh/site-functions/_ec2-vip"}
    missing, elsewhere = [], []
    for source, dest, _mode in meta["deb"]["assets"]:
        if source in debian_only:
            continue
        src = renamed.get(source, source)
        if src not in rpm:
            missing.append(source)
            continue
        want, got = zsh.get(source, "/" + dest), rpm[src]
        # A directory destination ("dir/") may be written as the file's full path.
        if not (got == want or (want.endswith("/") and got.startswith(want))):
            elsewhere.append((source, want, got))
    assert not missing, missing
    assert not elsewhere, elsewhere
    # The unit the .deb installs through its systemd-units entry.
    assert rpm["examples/keepalived/ec2-vip-watch.service"] == "/usr/lib/systemd/system/ec2-vip-watch.service"
    assert not any(k.endswith("_script") for k in meta["generate-rpm"]), "the .rpm must have no scriptlets"
