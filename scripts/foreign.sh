# Sourced by scripts/build-static, scripts/package, scripts/package-rpm and scripts/test-arch
# with $target set (a Rust target triple): sets `run`, the command prefix that runs that
# target's static binary on this machine: nothing for the machine's own architecture,
# qemu-aarch64-static (Debian: qemu-user-static) for an arm64 binary on another machine.
run=()
case "$target" in
    aarch64-*)
        if [[ "$(uname -m)" != aarch64 ]]; then
            command -v qemu-aarch64-static >/dev/null \
                || { echo "error: qemu-aarch64-static missing (apt-get install qemu-user-static)" >&2; exit 2; }
            run=(qemu-aarch64-static)
        fi
        ;;
esac
