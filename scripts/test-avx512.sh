#!/usr/bin/env bash
# x86_64 AVX-512 (+VNNI) kernel tests on an emulated CPU.
#
# For a host CPU without AVX-512 (`scripts/test.sh` calls this only then; on
# an AVX-512 CPU it runs these tests natively, capping the level with
# HEARTH_SIMD for the lower ones). qemu-user's TCG does not emulate AVX-512,
# so this boots a tiny Linux VM in bochs, whose `tigerlake` model has
# AVX-512 F/BW/VL/DQ + VNNI and whose `corei7_skylake_x` model has AVX-512
# without VNNI. The kernels crate's integration test binary is linked
# statically, packed with busybox into an initramfs, booted from an isolinux
# ISO, run with --test-threads=1, and its exit status read back from the
# serial log.
#
# Usage: scripts/test-avx512.sh [TEST-FILTER-ARGS...]
#   e.g. scripts/test-avx512.sh                    # all tests in tests/avx512.rs
#        AVX512_TEST=simd scripts/test-avx512.sh dot_q8   # tests/simd.rs, filtered
# Environment:
#   AVX512_TEST (or TEST)   integration test target to run (default: avx512)
#   AVX512_CPUS             bochs CPU models, one boot each, as MODEL or
#                           MODEL:LEVEL (default: "tigerlake corei7_skylake_x");
#                           LEVEL is the kernels::simd_level() the test must
#                           see, passed as HEARTH_EXPECT_SIMD (defaults:
#                           tigerlake/corei7_icelake_u avx512+vnni,
#                           corei7_skylake_x avx512; "MODEL:" sets none)
#   AVX512_TIMEOUT          seconds allowed per boot (default: 1200)
#   AVX512_MEGS             guest memory in MiB (default: 512)
#   AVX512_IPS              bochs's ips: the rate its devices (UART, PIT, BIOS
#                           delays) assume; the guest's TSC counts instructions
#   AVX512_KERNEL_ARGS      extra kernel command line arguments
#   AVX512_KERNEL_FLAVOUR   Debian kernel flavour (default: cloud-amd64; or amd64)
#   HEARTH_CACHE            cache root (default: ~/.cache/hearth); downloads and
#                           built images live in $HEARTH_CACHE/avx512-emu/
#   HEARTH_AVX512_TESTS=0   skip entirely
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "test-avx512: AVX-512 tests SKIPPED: $1" >&2; exit 0; }
die() { echo "test-avx512: $1" >&2; exit 1; }
log() { echo "test-avx512: $*"; }

[ "${HEARTH_AVX512_TESTS:-1}" != 0 ] || skip "HEARTH_AVX512_TESTS=0"

TEST_NAME=${AVX512_TEST:-${TEST:-avx512}}
CPUS=${AVX512_CPUS:-"tigerlake corei7_skylake_x"}
BOOT_TIMEOUT=${AVX512_TIMEOUT:-1200}
MEGS=${AVX512_MEGS:-512}
IPS=${AVX512_IPS:-50000000}
FLAVOUR=${AVX512_KERNEL_FLAVOUR:-cloud-amd64}
CACHE=${HEARTH_CACHE:-${HOME:-/tmp}/.cache/hearth}/avx512-emu
TARGET=x86_64-unknown-linux-gnu

[ -n "${AVX512_BINARY:-}" ] || [ -f "crates/kernels/tests/$TEST_NAME.rs" ] || skip "crates/kernels/tests/$TEST_NAME.rs does not exist"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_UPDATED=""
apt_update() {
    [ -n "$APT_UPDATED" ] && return 0
    $SUDO apt-get update >&2 || return 1
    APT_UPDATED=1
}

# --- host tools: bochs (+BIOS images), xorriso, cpio. bochs-term is named only
# so that apt picks that small front end for bochs's GUI dependency instead of
# the wxWidgets one; the run itself uses the built-in rfb library.
if ! command -v bochs-bin >/dev/null || [ ! -e /usr/share/bochs/BIOS-bochs-latest ] \
    || [ ! -e /usr/share/vgabios/vgabios.bin ] || ! command -v xorriso >/dev/null \
    || ! command -v cpio >/dev/null; then
    apt_update || skip "apt-get update failed"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        bochs bochs-term bochsbios vgabios xorriso cpio >&2 \
        || skip "could not install bochs, xorriso and cpio"
fi

# --- guest pieces, downloaded as .debs into the cache and unpacked there (never
# installed on the host): a kernel, busybox, isolinux.
mkdir -p "$CACHE/debs"
# fetch_deb PKG -> unpacks PKG into $CACHE/debs/PKG (once) and prints that dir.
fetch_deb() {
    local pkg=$1 dir="$CACHE/debs/$1"
    if [ ! -e "$dir/.done" ]; then
        local tmp
        tmp=$(mktemp -d "$CACHE/debs/.dl.XXXXXX")
        if ! (cd "$tmp" && apt-get download "$pkg" >&2); then
            apt_update && (cd "$tmp" && apt-get download "$pkg" >&2) || { rm -rf "$tmp"; return 1; }
        fi
        rm -rf "$dir" && mkdir -p "$dir"
        dpkg-deb -x "$tmp"/*.deb "$dir"
        rm -rf "$tmp"
        # Of a kernel package only /boot is needed (its modules are ~0.1-0.4 GB).
        case $pkg in linux-image-*) find "$dir" -mindepth 1 -maxdepth 1 ! -name boot -exec rm -rf {} + ;; esac
        touch "$dir/.done"
    fi
    echo "$dir"
}

# The kernel: the newest one already cached for this flavour, else whatever
# linux-image-$FLAVOUR currently depends on (unsigned variant: same image).
KDIR=$(ls -d "$CACHE/debs/linux-image-"* 2>/dev/null \
    | grep -E "/linux-image-[0-9][0-9.]*-[0-9]+-$FLAVOUR(-unsigned)?\$" | sort -V | tail -n1 || true)
if [ -z "$KDIR" ] || [ ! -e "$KDIR/.done" ]; then
    kpkg=$(apt-cache depends "linux-image-$FLAVOUR" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
    if [ -z "$kpkg" ]; then
        apt_update || skip "apt-get update failed"
        kpkg=$(apt-cache depends "linux-image-$FLAVOUR" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
    fi
    [ -n "$kpkg" ] || skip "no kernel package found for linux-image-$FLAVOUR"
    KDIR=$(fetch_deb "$kpkg-unsigned" || fetch_deb "$kpkg") || skip "could not download $kpkg"
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -n1)
BUSYBOX=$(fetch_deb busybox-static)/bin/busybox || skip "could not download busybox-static"
ISOLINUX=$(fetch_deb isolinux)/usr/lib/ISOLINUX/isolinux.bin || skip "could not download isolinux"
LDLINUX=$(fetch_deb syslinux-common)/usr/lib/syslinux/modules/bios/ldlinux.c32 || skip "could not download syslinux-common"
for f in "$VMLINUZ" "$BUSYBOX" "$ISOLINUX" "$LDLINUX"; do [ -e "$f" ] || die "missing $f"; done

# --- the test binary, statically linked so the initramfs needs no libc. Its
# own target dir keeps the normal build cache valid. AVX512_BINARY=/path runs
# that prebuilt static executable instead (for checking the harness itself).
if [ -n "${AVX512_BINARY:-}" ]; then
    exe=$AVX512_BINARY
    TEST_NAME=$(basename "$exe")
else
    log "building $TEST_NAME test binary (static)"
    json=$(RUSTFLAGS="-C target-feature=+crt-static" cargo test -p kernels --release --target "$TARGET" \
        --target-dir target/avx512-static --test "$TEST_NAME" --no-run --message-format=json-render-diagnostics)
    exe=$(printf '%s\n' "$json" | grep -F '"reason":"compiler-artifact"' | grep -F '"kind":["test"]' \
        | grep -F "\"name\":\"$TEST_NAME\"" | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
    [ -n "$exe" ] && [ -x "$exe" ] || die "could not find the $TEST_NAME test executable in cargo's output"
fi

# --- initramfs: busybox, the stripped test binary, /init. Each run has its own
# work dir (so two runs at once do not overwrite each other's image or logs);
# it is removed when the run passes and kept, with its serial and bochs logs,
# when it fails. (`$CACHE/run` is where older versions of this script worked.)
rm -rf "$CACHE/run"
WORK=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'st=$?; if [ "$st" -eq 0 ]; then rm -rf "$WORK"; else echo "test-avx512: work dir kept: $WORK" >&2; fi' EXIT
mkdir -p "$WORK/iso/isolinux" "$WORK/initrd"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp}
cp "$BUSYBOX" "$WORK/initrd/bin/busybox"
strip -o "$WORK/initrd/hearth-test" "$exe" 2>/dev/null || cp "$exe" "$WORK/initrd/hearth-test"
args=""
for a in "$@"; do args+=" '${a//\'/\'\\\'\'}'"; done
cat > "$WORK/initrd/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t tmpfs tmpfs /tmp
echo "HEARTH_CPU_MODEL: \$(grep -m1 '^model name' /proc/cpuinfo)"
echo "HEARTH_CPU_FLAGS: \$(grep -m1 '^flags' /proc/cpuinfo)"
echo "HEARTH_AVX512_FLAGS:" \$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^avx512')
set --$args
echo "HEARTH_TEST_START: HEARTH_EXPECT_SIMD=\${HEARTH_EXPECT_SIMD:-} $TEST_NAME --test-threads=1 \$*"
cd /tmp
/hearth-test --test-threads=1 "\$@"
echo "HEARTH_AVX512_EXIT=\$?"
# poweroff -f does not wait for the UART: give the console's transmit buffer
# (at most 4 KiB at 115200 baud, ~0.4 s of guest time) the time to drain.
sync
sleep 2
poweroff -f
EOF
chmod +x "$WORK/initrd/init"
# The console node lets the kernel hand /init a console before devtmpfs is
# mounted (mknod needs root; without it /init reopens /dev/console itself).
mknod -m 600 "$WORK/initrd/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$WORK/initrd/dev/null" c 1 3 2>/dev/null || true
(cd "$WORK/initrd" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$WORK/iso/initrd.img"

# --- bootable ISO. Kernel arguments:
#  - console at 115200 baud: at the default 9600 every line of output costs
#    the emulator ~0.3 s of busy-waiting on the UART;
#  - clearcpuid=pku,xsaves,xsavec: bochs 2.7 reports a zero size/offset for
#    the PKRU xstate component and the standard-format size where the
#    compacted-format (XSAVES/XSAVEC) size belongs in CPUID leaf 0xD; the
#    kernel then rejects the xstate layout and turns XSAVE off altogether,
#    which takes AVX and AVX-512 away from user space. Without PKRU and the
#    compacted format it uses plain XSAVE with the standard layout;
#  - clearcpuid=fsrm: bochs leaves the fast-strings bit of IA32_MISC_ENABLE
#    clear, so the kernel drops ERMS but keeps FSRM (tigerlake/icelake); this
#    6.1 kernel's memmove then patches out its short-copy check without
#    patching in the ERMS path, runs its 32-byte loop with a wrapped length
#    and page-faults to death right after "LSM: Security Framework
#    initializing";
#  - clearcpuid=aperfmperf: bochs advertises APERF/MPERF but has no such MSRs
#    (every scheduler tick would log an unknown-RDMSR error);
#  - the rest trims boot work that means nothing in an emulator.
KERNEL_ARGS="console=ttyS0,115200 quiet clearcpuid=pku,xsaves,xsavec,fsrm,aperfmperf mitigations=off"
KERNEL_ARGS+=" cryptomgr.notests tsc=reliable no_timer_check random.trust_cpu=on ${AVX512_KERNEL_ARGS:-}"
cp "$VMLINUZ" "$WORK/iso/vmlinuz"
cp "$ISOLINUX" "$LDLINUX" "$WORK/iso/isolinux/"

# make_iso DIR EXTRA-KERNEL-ARGS -> DIR/boot.iso
make_iso() {
    cat > "$WORK/iso/isolinux/isolinux.cfg" <<EOF
DEFAULT hearth
PROMPT 0
TIMEOUT 0
LABEL hearth
  KERNEL /vmlinuz
  APPEND initrd=/initrd.img $KERNEL_ARGS $2
EOF
    local out
    out=$(xorriso -as mkisofs -quiet -o "$1/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
        -no-emul-boot -boot-load-size 4 -boot-info-table "$WORK/iso" 2>&1) || die "xorriso failed: $out"
}

# --- boot it once per CPU model.
# run_bochs MODEL[:LEVEL] -> 0 when the test binary reported exit status 0.
run_bochs() {
    local model=${1%%:*} expect
    case $1 in
        *:*) expect=${1#*:} ;;
        tigerlake | corei7_icelake_u) expect=avx512+vnni ;;
        corei7_skylake_x) expect=avx512 ;;
        *) expect="" ;;
    esac
    local dir="$WORK/$model"
    mkdir -p "$dir"
    # The kernel hands unknown NAME=VALUE arguments to /init as environment.
    make_iso "$dir" "${expect:+HEARTH_EXPECT_SIMD=$expect}"
    local serial="$dir/serial.log" blog="$dir/bochs.log" rc="$dir/bochsrc"
    rm -f "$serial" "$blog"
    : > "$serial"
    # rfb with timeout=0 does not wait for a VNC client (this bochs build has
    # no nogui library); sound off (ALSA aborts without a sound card).
    cat > "$rc" <<EOF
display_library: rfb, options="timeout=0"
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=$model, count=1, ips=$IPS, reset_on_triple_fault=0
memory: guest=$MEGS, host=$MEGS
clock: sync=none, time0=local
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path="$dir/boot.iso", status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev="$serial"
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
mouse: enabled=0
log: $blog
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
EOF
    # This bochs is built with its debugger, which stops before the first
    # instruction: tell it to continue, then to quit.
    printf 'c\nquit\n' > "$dir/debugger.rc"
    local netns=()
    # The rfb library listens on a TCP port; keep that inside a private netns.
    unshare -n true 2>/dev/null && netns=(unshare -n)
    log "booting bochs, cpu model $model${expect:+ (expecting simd level $expect)}, timeout ${BOOT_TIMEOUT}s; serial log: $serial"
    local t0=$SECONDS tboot="" shown=0 status="" n line lines
    (cd "$dir" && exec "${netns[@]}" timeout "$BOOT_TIMEOUT" bochs-bin -q -f "$rc" -rc "$dir/debugger.rc" \
        </dev/null >"$dir/bochs.out" 2>&1) &
    local bpid=$!
    # Follow the serial log (whole lines only): boot messages with the time
    # since bochs started, the test binary's output as it is.
    while :; do
        local alive=1
        kill -0 "$bpid" 2>/dev/null || alive=0
        n=$(wc -l < "$serial" 2>/dev/null || echo 0)
        if [ "$n" -gt "$shown" ]; then
            mapfile -t -s "$shown" -n "$((n - shown))" lines < "$serial"
            shown=$n
            for line in "${lines[@]}"; do
                line=${line//$'\r'/}
                if [ -z "$tboot" ]; then printf '[%4ds] %s\n' $((SECONDS - t0)) "$line"; else printf '%s\n' "$line"; fi
                case $line in
                    HEARTH_TEST_START*) tboot=$((SECONDS - t0)) ;;
                    *HEARTH_AVX512_EXIT=*)
                        status=${line##*HEARTH_AVX512_EXIT=}
                        [[ $status =~ ^[0-9]+$ ]] || status="" ;;
                esac
            done
        fi
        [ -n "$status" ] && break
        [ "$alive" = 1 ] || break
        sleep 1
    done
    local secs=$((SECONDS - t0))
    # /init powers the VM off two guest seconds after the marker, which ends
    # bochs; make sure it is gone in any case.
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$bpid" 2>/dev/null || break; sleep 1; done
    kill "$bpid" 2>/dev/null || true
    wait "$bpid" 2>/dev/null || true
    if [ -z "$status" ]; then
        echo "test-avx512: [$model] no exit marker after ${secs}s (timeout, kernel panic or crash)" >&2
        echo "test-avx512: [$model] serial log tail ($serial):" >&2
        tr -d '\r' < "$serial" 2>/dev/null | tail -n 40 >&2 || true
        echo "test-avx512: [$model] bochs log tail ($blog):" >&2
        tail -n 40 "$blog" >&2 2>/dev/null || true
        tail -n 20 "$dir/bochs.out" >&2 2>/dev/null || true
        return 1
    fi
    log "[$model] $TEST_NAME exit status $status; boot ${tboot:-?}s, tests $((secs - ${tboot:-0}))s, total ${secs}s"
    [ "$status" = 0 ]
}

failed=()
for model in $CPUS; do
    run_bochs "$model" || failed+=("${model%%:*}")
done
if [ ${#failed[@]} -gt 0 ]; then
    die "FAILED on cpu model(s): ${failed[*]}"
fi
log "$TEST_NAME passed on: $CPUS"
