# Shared by scripts/test and scripts/demo: the Python venv with the pinned emulator.
# Sourced, not run. Honours EC2VIP_VENV (default: .venv in the repo).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${EC2VIP_VENV:-$REPO/.venv}
export EC2VIP_VENV=$VENV

ensure_venv() {
    local req=$REPO/tests/requirements.txt stamp=$VENV/.requirements
    if [ -x "$VENV/bin/python" ] && cmp -s "$req" "$stamp"; then
        return 0
    fi
    echo "==> preparing Python venv $VENV (moto server, boto3, pytest, awscli)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
}

build_debug() {
    echo "==> cargo build"
    (cd "$REPO" && cargo build --quiet)
    export EC2VIP_BIN=$REPO/target/debug/ec2-vip
}
