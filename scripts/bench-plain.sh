#!/usr/bin/env bash
# The hand-written equivalent of fixtures/bench/hello.yaml (or, with the argument
# `sigterm`, of fixtures/bench/sigterm.yaml): the same podman calls podproof makes
# for it (network, kube play, readiness over HTTP, exec, stop, remove), written as
# a plain script. scripts/bench.sh compares the two. The stop waits out the
# 1 s grace that `podproof test` gives by default, as a script's writer would.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case ${1:-hello} in
  hello) cmd='[httpd, -f, -v, -p, "8080", -h, /www]' ;;
  # busybox httpd under a shell that exits on SIGTERM (fixtures/apps/sigterm-httpd).
  sigterm) cmd="[sh, -c, 'httpd -f -p 8080 -h /www & trap \"kill \$!; exit 0\" TERM; wait']" ;;
  *)
    echo "usage: $0 [hello|sigterm]" >&2
    exit 2
    ;;
esac
id="b$$"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/www"
cp "$root/fixtures/apps/busybox-httpd/index.html" "$dir/www/index.html"
cat > "$dir/pod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  annotations: {podproof.dev/reload: watch}
  labels: {app.kubernetes.io/name: hello, podproof.dev/run: $id, podproof.dev/app: hello, podproof.dev/member: hello-web-0, podproof.dev/role: web}
  name: hello-web-0-$id
spec:
  hostname: hello-web-0
  containers:
  - name: web
    image: localhost/podproof/busybox:latest
    imagePullPolicy: IfNotPresent
    command: $cmd
    resources:
      limits: {cpu: 200m, memory: 64Mi}
      requests: {cpu: 50m, memory: 16Mi}
    volumeMounts: [{name: config-0, mountPath: /www, readOnly: true}]
  volumes:
  - {name: config-0, hostPath: {path: $dir/www, type: Directory}}
YAML
podman network create --label "podproof.dev/run=$id" "net-$id" >/dev/null
podman kube play --network "net-$id:alias=hello-web-0" "$dir/pod.yaml" >/dev/null 2>&1
ip=$(podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "hello-web-0-$id-web")
get() { exec 3<>"/dev/tcp/$ip/8080" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3; }
until get 2>/dev/null | grep -q "200 OK"; do sleep 0.05; done
get | grep -q "hello from podproof"
podman exec "hello-web-0-$id-web" cat /www/index.html >/dev/null
podman pod stop -t 1 "hello-web-0-$id" >/dev/null 2>&1
podman pod rm -f -t 0 "hello-web-0-$id" >/dev/null
podman network rm "net-$id" >/dev/null
