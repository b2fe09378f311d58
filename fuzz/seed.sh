#!/bin/sh
# Seeds each fuzz target's corpus (fuzz/corpus/<target>, kept out of git) from
# the fixtures and the bad-input corpus; libFuzzer keeps what it finds beside them.
set -e
cd "$(dirname "$0")/.."

seed() {
    dir=fuzz/corpus/$1
    shift
    mkdir -p "$dir"
    for f in "$@"; do
        cp "$f" "$dir/$(echo "$f" | tr / _)"
    done
}

docs=$(find fixtures/apps fixtures/tests tests/bad-input -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' -o -name stdin \) | sort)
tests=$(grep -l '^kind: Test' $docs)
seed yaml_stream $docs
seed load_apps $docs
seed app_reader $(grep -l -e '^kind: App' -e '"kind": "App"' $docs)
seed test_reader $tests

mkdir -p fuzz/corpus/reload_policy fuzz/corpus/duration
i=0
for v in 'signal SIGHUP' 'signal hup' 'signal 1' 'http POST http://localhost:9090/-/reload' 'http get http://127.0.0.1/' restart watch; do
    printf '%s' "$v" > fuzz/corpus/reload_policy/seed-$i
    i=$((i + 1))
done
for v in 500ms 10s 5m 1h 1m30s 1.5s 0.25h; do
    printf '%s' "$v" > fuzz/corpus/duration/seed-$v
done

mkdir -p fuzz/corpus/cli_paths
i=0
for v in up tk3x9q2 /tmp/x ../../victim .. tplant 'up/../..' 'a/b' ''; do
    printf '%s' "$v" > fuzz/corpus/cli_paths/seed-$i
    i=$((i + 1))
done
