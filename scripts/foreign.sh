# Sourced by scripts/build-static, scripts/package, scripts/package-rpm and scripts/test-arch
# with $target set (a Rust target triple). Sets `machine`, the architecture as file(1) names
# it, and `run`, the command prefix that runs that target's static binary on this machine:
# nothing for the machine's own architecture, qemu-aarch64-static (Debian: qemu-user-static)
# for an arm64 binary on another machine. `runner OUT BIN` writes OUT, a script that runs BIN
# that way (for what execs a binary itself: pytest's EC2VIP_BIN, the OCF agent).
run=()
case "$target" in
    x86_64-unknown-linux-musl) machine=x86-64 ;;
    aarch64-unknown-linux-musl)
        machine="ARM aarch64"
        if [[ "$(uname -m)" != aarch64 ]]; then
            command -v qemu-aarch64-static >/dev/null \
                || { echo "error: qemu-aarch64-static missing (apt-get install qemu-user-static)" >&2; exit 2; }
            run=(qemu-aarch64-static)
        fi
        ;;
    *) echo "error: unsupported target $target (x86_64-unknown-linux-musl or aarch64-unknown-linux-musl)" >&2; exit 2 ;;
esac
runner() {
    printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${run[*]}" "$2" >"$1"
    chmod 755 "$1"
}
