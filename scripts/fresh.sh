#!/usr/bin/env bash
# The from-zero check: the project's own set-up and a smoke run of the main job on a
# pristine Debian machine, one per supported podman generation, so a missing install
# step cannot hide behind a used machine.
#
# Usage: scripts/fresh.sh [rootfs]   (as root; `make fresh`)
#   rootfs                           only build (or refresh) the cached root filesystems
#   FRESH_SUITES="bookworm trixie"   the Debian suites to check (podman 4.3 and 5.4)
#   FRESH_FULL=1                     run `make demo` and `make test` inside instead of
#                                    the smoke run (slow; for a transcript, not for CI)
#   FRESH_TESTS="..."                the scenario tests of the smoke run (names under
#                                    fixtures/tests; `all` adds a run of every one)
#   FRESH_CACHE=/var/cache/podproof-fresh   where the root filesystems are cached
#   FRESH_MIRROR=http://deb.debian.org/debian
#
# For each suite: a `debootstrap --variant=minbase` root filesystem (cached outside the
# checkout, so CI's fresh clones reuse it) is imported as a local image and started as a
# privileged container on a network of its own. Inside, on `git archive HEAD`, it runs
# `scripts/setup.sh all`, then doctor, render, up/down, a few scenario tests and the
# leftovers check, with the podproof binary built on this host. On trixie /home stays on
# the container's overlay root, so the set-up must make fuse-overlayfs the rootless
# user's mount program; the smoke run then checks doctor's line for it, that a set-up
# after a half-made store resets it and a second one does nothing, and runs the hello
# test as that user. The container, its network and volumes are removed at the
# end, also on failure or Ctrl-C.
# Prints the time of each phase per suite and one PASS/FAIL line per suite.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITES=${FRESH_SUITES:-bookworm trixie}
FULL=${FRESH_FULL:-0}
CACHE=${FRESH_CACHE:-/var/cache/podproof-fresh}
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
TESTS=${FRESH_TESTS:-hello services reload-apps lifecycle kd-exercise1}
LABEL=podproof.dev/fresh
# What a new machine of this kind has besides a minimal Debian: the tools a fresh
# clone and a Rust build need. Nothing that scripts/setup.sh installs belongs here,
# or the check could not see it missing. The trust store comes from the host.
BASE_PKGS=make,gcc,libc6-dev,git,procps,curl,ca-certificates
# Bump when the recipe of the cached root filesystems changes.
RECIPE_REV=1

say() { printf 'fresh: %s\n' "$*"; }
die() {
  printf 'fresh: error: %s\n' "$*" >&2
  exit 1
}

usage() { sed -n '2,26s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
MODE=check
case ${1:-} in
  -h | --help) usage && exit 0 ;;
  rootfs) MODE=rootfs ;;
  "") ;;
  *) usage >&2 && exit 2 ;;
esac
[[ $(id -u) == 0 ]] || die "run as root: debootstrap and a privileged container need it"
for cmd in podman debootstrap git cargo; do
  command -v "$cmd" >/dev/null || die "$cmd is missing (run scripts/setup.sh system first)"
done
for s in $SUITES; do
  case $s in bookworm | trixie) ;; *) die "unsupported suite '$s' (bookworm or trixie)" ;; esac
done

# Everything this run made on the host's podman, removed by cleanup.
CONTAINERS=() NETWORKS=() VOLUMES=() TMPDIRS=()
cleanup() {
  local c n v d
  for c in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  for v in "${VOLUMES[@]}"; do podman volume rm -f "$v" >/dev/null 2>&1 || true; done
  for n in "${NETWORKS[@]}"; do podman network rm -f "$n" >/dev/null 2>&1 || true; done
  for d in "${TMPDIRS[@]}"; do rm -rf --one-file-system "$d" 2>/dev/null || true; done
  CONTAINERS=() NETWORKS=() VOLUMES=() TMPDIRS=()
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# timed NAME CMD...: runs CMD, records its duration under NAME for the summary.
declare -A SECS
timed() {
  local name=$1 t0=$SECONDS rc=0
  shift
  "$@" || rc=$?
  SECS[$SUITE.$name]=$((SECONDS - t0))
  return "$rc"
}

# ---------------------------------------------------------------- rootfs

recipe() { printf 'rev=%s suite=%s pkgs=%s mirror=%s\n' "$RECIPE_REV" "$SUITE" "$BASE_PKGS" "$MIRROR"; }

# rootfs: the cached tarball of a pristine SUITE, imported as IMAGE.
rootfs() {
  local tar=$CACHE/$SUITE.tar key dir
  key=$(recipe | sha256sum | cut -c1-16)
  mkdir -p "$CACHE"
  if [[ ! -f $tar || $(cat "$tar.key" 2>/dev/null) != "$key" ]]; then
    dir=$(mktemp -d /var/tmp/podproof-fresh-rootfs.XXXXXX)
    TMPDIRS+=("$dir")
    say "$SUITE: debootstrap --variant=minbase from $MIRROR"
    local log=$dir.log
    if ! debootstrap --variant=minbase --include="$BASE_PKGS" "$SUITE" "$dir" "$MIRROR" >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      rm -f "$log"
      return 1
    fi
    rm -f "$log"
    # A new machine has the suite's updates and security archive configured.
    rm -f "$dir/etc/apt/sources.list"
    cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$dir" -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
    echo "$key" >"$tar.key"
    rm -rf --one-file-system "$dir"
  fi
  if [[ $(podman image inspect --format "{{ index .Labels \"$LABEL-key\" }}" "$IMAGE" 2>/dev/null) != "$key" ]]; then
    podman import -q --change 'CMD ["/bin/bash"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "LABEL $LABEL=$SUITE" --change "LABEL $LABEL-key=$key" \
      "$tar" "$IMAGE" >/dev/null
  fi
}

# ---------------------------------------------------------------- build

# The smoke run uses a podproof binary built here: a new machine has the toolchain,
# and building once saves minutes per suite. The archive is HEAD, so say when the
# binary is built from a different tree.
build() {
  if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock) ]]; then
    say "warning: src/ or Cargo.* differ from HEAD; the binary is built from the working tree"
  fi
  (cd "$ROOT" && cargo build --release --locked --quiet)
}

# ---------------------------------------------------------------- container

# inside CMD: runs a bash command line inside the suite's container, in the checkout.
inside() {
  podman exec -i -w /src -e PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
    -e PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    -e CARGO_HOME=/root/cargo-home -e RUSTUP_HOME=/root/.rustup -e CARGO_TERM_COLOR=never \
    "$CTR" bash -euo pipefail -c "$1"
}

start() {
  local suffix i net
  suffix=$SUITE-$$
  CTR=podproof-fresh-$suffix
  net=podproof-fresh-$suffix
  # Not podman's default 10.88.0.0/16: the nested podman uses that one, and with both
  # on it the nested builds cannot resolve names.
  i=$((200 + $$ % 50))
  [[ $SUITE == trixie ]] && i=$((i + 1))
  podman network create --label "$LABEL=$SUITE" --subnet "10.$i.$(($$ % 250)).0/24" "$net" >/dev/null
  NETWORKS+=("$net")
  # Root's store and /var/tmp are volumes, as a CI runner's would be. On bookworm /home
  # is one too; on trixie it is not, so the rootless user's store sits on the
  # container's overlay root as in a CI `container:` job, where podman fails with
  # "'overlay' is not supported over overlayfs" unless the set-up makes fuse-overlayfs
  # the mount program.
  local vols=(containers vartmp)
  ((ROOTLESS_ON_ROOT)) || vols+=(home)
  for v in "${vols[@]}"; do
    podman volume create --label "$LABEL=$SUITE" "$CTR-$v" >/dev/null
    VOLUMES+=("$CTR-$v")
  done
  local mounts=(
    -v "$CTR-containers:/var/lib/containers:exec,dev,suid"
    -v "$CTR-vartmp:/var/tmp:exec,dev,suid"
    -v /etc/ssl/certs:/etc/ssl/certs:ro
  )
  ((ROOTLESS_ON_ROOT)) || mounts+=(-v "$CTR-home:/home:exec,dev,suid")
  if ((FULL)); then
    mounts+=(-v "$HOME/.cargo/bin:/root/.cargo/bin:ro" -v "$HOME/.rustup:/root/.rustup:ro")
  fi
  CONTAINERS+=("$CTR")
  podman run -d --name "$CTR" --label "$LABEL=$SUITE" --privileged --init \
    --network "$net" --hostname "fresh-$SUITE" "${mounts[@]}" "$IMAGE" sleep infinity >/dev/null
  podman exec "$CTR" mkdir -p /src/target/release
  git -C "$ROOT" archive HEAD | podman exec -i "$CTR" tar -x -C /src
  if ((!FULL)); then
    podman cp "$ROOT/target/release/podproof" "$CTR:/src/target/release/podproof"
  fi
}

setup_inside() {
  inside 'cat /etc/debian_version; scripts/setup.sh all; podman --version'
}

smoke() {
  local tests=() t all=
  for t in $TESTS; do
    if [[ $t == all ]]; then all="\$P test -j 2 fixtures/tests"; else tests+=("fixtures/tests/$t.yaml"); fi
  done
  # With the rootless store on the overlay root, doctor must name fuse-overlayfs as
  # its mount program, a half-made store must be reset, and the rootless user must
  # run a scenario test through it.
  local rootless=
  if ((ROOTLESS_ON_ROOT)); then
    rootless="
    echo \"rootless store on: \$(stat -f -c %T /home)\"
    grep -F 'fuse-overlayfs (/usr/bin/fuse-overlayfs) is the mount program' /tmp/doctor.txt
    U=podproof-rootless
    # A store made before the file: set-up must write the file again, reset that
    # store and reload the images, and a second set-up must have nothing to do. (What
    # podman does without the file is printed, not required: with fuse-overlayfs
    # installed, podman 5.4 was seen to list the store anyway.)
    rm /home/\$U/.config/containers/storage.conf
    (cd / && runuser -u \$U -- podman images 2>&1 | head -n 1 | sed 's/^/without storage.conf: /') || true
    scripts/setup.sh rootless | tee /tmp/again.txt
    grep -qF \"reset \$U's podman storage\" /tmp/again.txt
    again=\$(scripts/setup.sh rootless)
    [[ -z \$again ]] || { echo \"set-up is not idempotent: \$again\" >&2; exit 1; }
    echo 'a second set-up had nothing to do'
    D=\$(mktemp -d /tmp/fresh-rootless.XXXXXX)
    cp -a fixtures snapshots podproof.yaml \$P \$D/
    chown -R \$U \$D
    cd \$D
    runuser -u \$U -- podman info --format 'rootless podman: {{.Store.GraphDriverName}} {{.Store.GraphOptions}}'
    env -u XDG_RUNTIME_DIR runuser -u \$U -- ./podproof test fixtures/tests/hello.yaml
    cd /src
    rm -rf \$D
"
  fi
  inside "
    P=target/release/podproof
    \$P --version
    \$P doctor | tee /tmp/doctor.txt
    \$P render fixtures/apps/prometheus >/dev/null && echo 'render: ok'
    \$P up fixtures/apps/busybox-httpd
    podman pod ps --filter label=podproof.dev/run --format '{{.Name}} {{.Status}}'
    \$P down --all
    ${tests[*]:+\$P test -j 2 ${tests[*]}}
    $all
    $rootless
    scripts/teardown-check.sh
  "
}

full() {
  inside 'make demo && PODPROOF_REQUIRE_PODMAN=1 PODPROOF_REQUIRE_ROOTLESS=1 make test'
}

# ---------------------------------------------------------------- main

declare -A RESULT
SUITE= IMAGE= CTR= ROOTLESS_ON_ROOT=0
t_start=$SECONDS
if [[ $MODE == rootfs ]]; then
  for SUITE in $SUITES; do
    IMAGE=localhost/podproof-fresh/$SUITE:latest
    timed rootfs rootfs || die "$SUITE: the root filesystem could not be built"
    say "$SUITE: root filesystem ready (${SECS[$SUITE.rootfs]}s)"
  done
  exit 0
fi
timed_build=0
for SUITE in $SUITES; do
  IMAGE=localhost/podproof-fresh/$SUITE:latest
  ROOTLESS_ON_ROOT=0
  [[ $SUITE == trixie ]] && ROOTLESS_ON_ROOT=1
  say "== $SUITE"
  RESULT[$SUITE]=FAIL
  phase=rootfs
  if timed rootfs rootfs; then
    phase=build
    if ((FULL)) || ((timed_build)) || timed build build; then
      timed_build=1
      phase=set-up
      if timed start start && timed setup setup_inside; then
        phase=smoke
        if ((FULL)); then
          timed smoke full && RESULT[$SUITE]=PASS
        else
          timed smoke smoke && RESULT[$SUITE]=PASS
        fi
      fi
    fi
  fi
  [[ ${RESULT[$SUITE]} == PASS ]] || RESULT[$SUITE]="FAIL (in $phase)"
  cleanup
done

status=0
secs() { if [[ -n $1 ]]; then echo "${1}s"; else echo -; fi; }
echo
printf 'fresh: %-9s %7s %7s %7s %7s %7s\n' suite rootfs build set-up smoke total
for SUITE in $SUITES; do
  r=${SECS[$SUITE.rootfs]:-}
  b=${SECS[$SUITE.build]:-}
  u=$((${SECS[$SUITE.start]:-0} + ${SECS[$SUITE.setup]:-0}))
  m=${SECS[$SUITE.smoke]:-}
  tot=$((${r:-0} + ${b:-0} + u + ${m:-0}))
  # The binary is built once, for the first suite; a phase that did not run shows "-".
  printf 'fresh: %-9s %7s %7s %7s %7s %7s\n' "$SUITE" "$(secs "$r")" "$(secs "$b")" "${u}s" "$(secs "$m")" "${tot}s"
done
for SUITE in $SUITES; do
  v=$([[ $SUITE == bookworm ]] && echo "Debian 12" || echo "Debian 13")
  say "$SUITE ($v): ${RESULT[$SUITE]}"
  [[ ${RESULT[$SUITE]} == PASS ]] || status=1
done
say "total $((SECONDS - t_start))s"
exit $status
